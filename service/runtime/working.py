"""Original image <-> working image: the size the models run at, and coordinates mapped back.

The models run on the image resized so that its long side is the working size (never
upscaled); boxes given in the original image's pixels are mapped into the working image, poses
and detector boxes found there are mapped back. `Frame` holds the two sizes; any pipeline (the
bottom-up one, a top-down one) prepares its inputs with `prepare` and answers with
`Frame.pose_out` / `Frame.box_out`.

Conventions: keypoints are pixel centres (pixel i is centred on i, as the pose net's grid and
OpenCV's resize assume), so x_work = (x + 0.5) * sx - 0.5; box edges are continuous (pixel i
spans [i, i + 1), as the detector outputs), so x_work = x * sx, with sx = w / W.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import cv2
import numpy as np

from service.runtime.exposure import brighten
from service.types import Box, Pose

# Long side of the working image when neither the settings nor the pose manifest name one.
DEFAULT_WORKING_SIZE = 848


def working_shape(height: int, width: int, working_size: int) -> tuple[int, int]:
    """(H, W) -> (h, w): long side `working_size` when the image is larger, else (H, W).

    working_size 0 = no working resolution (the models see the whole image)."""
    long_side = max(height, width)
    if working_size <= 0 or long_side <= working_size:
        return height, width
    scale = working_size / long_side
    return max(1, round(height * scale)), max(1, round(width * scale))


@dataclass(frozen=True)
class Frame:
    """The original image (height x width) and the working image the models see (h x w)."""

    height: int
    width: int
    work_height: int
    work_width: int

    @classmethod
    def of(cls, height: int, width: int, working_size: int) -> Frame:
        return cls(height, width, *working_shape(height, width, working_size))

    @property
    def identity(self) -> bool:
        return (self.height, self.width) == (self.work_height, self.work_width)

    @property
    def scale(self) -> tuple[float, float]:
        """(sx, sy): working pixels per original pixel along x and y."""
        return self.work_width / self.width, self.work_height / self.height

    def points_in(self, xy: np.ndarray) -> np.ndarray:
        """(..., 2) original pixel centres -> working pixel centres."""
        return (xy + 0.5) * np.asarray(self.scale) - 0.5

    def points_out(self, xy: np.ndarray) -> np.ndarray:
        """(..., 2) working pixel centres -> original pixel centres."""
        return (xy + 0.5) / np.asarray(self.scale) - 0.5

    def box_in(self, box: Box) -> Box:
        """A box in original pixels -> a new Box object in working pixels (always a copy:
        pipelines tell boxes apart by identity)."""
        sx, sy = self.scale
        return replace(box, x1=box.x1 * sx, y1=box.y1 * sy, x2=box.x2 * sx, y2=box.y2 * sy)

    def box_out(self, box: Box) -> Box:
        """A box in working pixels -> the same box in original pixels."""
        if self.identity:
            return box
        sx, sy = self.scale
        return replace(box, x1=box.x1 / sx, y1=box.y1 / sy, x2=box.x2 / sx, y2=box.y2 / sy)

    def pose_out(self, pose: Pose, box: Box | None = None) -> Pose:
        """A pose in working pixels -> original pixels; its box mapped too, or `box` if given
        (a client box answered as it was sent). Joints not found stay (0, 0, 0)."""
        mapped = self.box_out(pose.box) if pose.box is not None else None
        return self._pose(pose, self.points_out, box or mapped)

    def pose_in(self, pose: Pose) -> Pose:
        """A pose in original pixels -> working pixels (to draw on the working image)."""
        return self._pose(pose, self.points_in, self.box_in(pose.box) if pose.box else None)

    def _pose(
        self, pose: Pose, mapping: Callable[[np.ndarray], np.ndarray], box: Box | None
    ) -> Pose:
        keypoints = pose.keypoints.astype(np.float64, copy=True)  # (J, 3)
        found = keypoints[:, 2] > 0
        if not self.identity:
            keypoints[found, :2] = mapping(keypoints[found, :2])
        return Pose(keypoints, pose.score, box, pose.candidate_ids, pose.limb_scores)


def fit(image: np.ndarray, frame: Frame) -> np.ndarray:
    """A rendition of the original image at any size (full, or a reduced JPEG decode)
    (H', W', 3) -> the working image (h, w, 3); returned as is when already that size."""
    size = (frame.work_height, frame.work_width)
    if image.shape[:2] == size:
        return image
    shrink = image.shape[0] * image.shape[1] > size[0] * size[1]
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(image, (size[1], size[0]), interpolation=interpolation)


@dataclass(frozen=True)
class WorkingInput:
    """One image as the models see it."""

    image: np.ndarray  # (h, w, 3) uint8 RGB, the working image
    frame: Frame
    boxes: list[Box] | None  # client boxes in working pixels, in the client's order


def prepare(
    image: np.ndarray, size: tuple[int, int] | None, boxes: list[Box] | None, working_size: int,
    brighten_dark: bool = False,
) -> WorkingInput:
    """(H', W', 3) image of an original of `size` (H, W) (None: the image's own size) + client
    boxes in original pixels -> the working image and boxes; with `brighten_dark`, a very dark
    image brightened (`exposure.brighten`)."""
    height, width = size if size is not None else (int(image.shape[0]), int(image.shape[1]))
    frame = Frame.of(height, width, working_size)
    working = None if boxes is None else [frame.box_in(box) for box in boxes]
    # before the resize: averaging then rounding a dark image's few grey levels would lose them
    return WorkingInput(fit(brighten(image) if brighten_dark else image, frame), frame, working)
