"""A person box -> the square crop a top-down model sees, and its landmarks back to the image.

The square is centred on the box, of side (1 + grow) x its long side, optionally rotated (a
detector's alignment), cut from the working image with edge replication (cv2.warpAffine,
BORDER_REPLICATE) at the model's crop size.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from service.types import Box


@dataclass(frozen=True)
class Square:
    """A crop in working-image pixels: centre, side, rotation (radians, counter-clockwise of
    the crop's axes in the image; 0 for client boxes)."""

    cx: float
    cy: float
    side: float
    angle: float = 0.0

    @classmethod
    def of(cls, box: Box, grow: float, angle: float = 0.0) -> Square:
        side = max(box.width, box.height) * (1.0 + grow)
        return cls((box.x1 + box.x2) / 2, (box.y1 + box.y2) / 2, max(side, 1.0), angle)

    def axes(self, size: int) -> np.ndarray:
        """(2, 2): image pixels per crop pixel along the crop's x (column 0) and y (column 1)."""
        c, s = np.cos(self.angle), np.sin(self.angle)
        return np.array([[c, -s], [s, c]]) * (self.side / size)

    def cut(self, image: np.ndarray, size: int) -> np.ndarray:
        """(H, W, 3) uint8 -> (size, size, 3): crop pixel (i, j) samples the image at
        corner + axes @ (j, i), as MediaPipe's OpenCV converter maps the square's corners onto
        the crop's; edges replicated outside the image."""
        axes = self.axes(size)
        corner = np.array([self.cx, self.cy]) - axes @ np.array([size / 2, size / 2])
        matrix = np.concatenate([axes, corner[:, None]], axis=1)  # crop -> image
        return cv2.warpAffine(image, matrix, (size, size),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)  # fmt: skip

    def to_image(self, uv: np.ndarray, size: int) -> np.ndarray:
        """(L, 2) landmark positions in crop pixels -> (L, 2) working-image pixels."""
        return (uv - size / 2) @ self.axes(size).T + np.array([self.cx, self.cy])
