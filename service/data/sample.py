"""The one record every reader produces and the augmentation consumes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from service.skeleton import Skeleton


@dataclass
class Sample:
    image: np.ndarray  # (H, W, 3) uint8 RGB
    # (N, J, 3) x, y, v in image pixels; v: 0 unlabelled, 1 occluded, 2 visible
    keypoints: np.ndarray
    boxes: np.ndarray  # (N, 4) float x1, y1, x2, y2 of the annotated people
    ignore: np.ndarray | None = None  # (H, W) bool: crowds and unannotated people (W(p) = 0)


class Source(Protocol):
    """Indexable annotated images in one skeleton's joint order."""

    skeleton: Skeleton

    def __len__(self) -> int: ...

    def load(self, index: int) -> Sample: ...


def boxes_mask(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """(K, 4) xyxy -> (H, W) bool, True inside any box (rounded outwards)."""
    mask = np.zeros((height, width), bool)
    for x1, y1, x2, y2 in np.asarray(boxes, float).reshape(-1, 4):
        c0, r0 = max(int(np.floor(x1)), 0), max(int(np.floor(y1)), 0)
        c1, r1 = min(int(np.ceil(x2)), width), min(int(np.ceil(y2)), height)
        if c1 > c0 and r1 > r0:
            mask[r0:r1, c0:c1] = True
    return mask


def read_rgb(path: str) -> np.ndarray:
    import cv2

    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f"cannot read image {path}")
    return np.ascontiguousarray(img[..., ::-1])
