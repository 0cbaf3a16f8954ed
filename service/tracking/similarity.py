"""Two sets of poses -> a similarity matrix: object keypoint similarity (COCO's OKS) or box IoU.

A pose is compared through its keypoints (J, 3) and its box; a pose without a box is boxed by
its found joints.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from service.types import Pose

MIN_COMMON_JOINTS = 3  # fewer found joints in common: OKS says little, the boxes decide


def pose_box(keypoints: np.ndarray, box: tuple[float, float, float, float] | None) -> np.ndarray:
    """(J, 3) keypoints (+ the pose's box, if any) -> (4,) x1, y1, x2, y2; zeros if neither."""
    if box is not None:
        return np.asarray(box, dtype=np.float64)
    found = keypoints[:, 2] > 0
    if not found.any():
        return np.zeros(4)
    xy = keypoints[found, :2]
    return np.concatenate([xy.min(0), xy.max(0)]).astype(np.float64)


def box_of(pose: Pose) -> np.ndarray:
    b = pose.box
    return pose_box(pose.keypoints, None if b is None else (b.x1, b.y1, b.x2, b.y2))


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(A, 4) and (B, 4) boxes -> (A, B) intersection over union."""
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def oks_matrix(
    kp_a: np.ndarray, box_a: np.ndarray, kp_b: np.ndarray, box_b: np.ndarray, sigmas: np.ndarray
) -> np.ndarray:
    """(A, J, 3), (A, 4), (B, J, 3), (B, 4), (J,) -> (A, B) OKS over the joints found in both,
    the scale the mean of the two box areas; box IoU where fewer than MIN_COMMON_JOINTS, or
    where it says more (OKS falls fast with distance: a person who turned while unseen is
    still the box that overlaps their predicted one)."""
    common = (kp_a[:, None, :, 2] > 0) & (kp_b[None, :, :, 2] > 0)  # (A, B, J)
    d2 = np.sum((kp_a[:, None, :, :2] - kp_b[None, :, :, :2]) ** 2, axis=-1)  # (A, B, J)
    area_a = np.prod(np.clip(box_a[:, 2:] - box_a[:, :2], 1, None), axis=1)
    area_b = np.prod(np.clip(box_b[:, 2:] - box_b[:, :2], 1, None), axis=1)
    area = (area_a[:, None] + area_b[None, :]) / 2  # (A, B)
    k2 = (2 * sigmas) ** 2  # (J,)
    e = np.exp(-d2 / (2 * area[..., None] * k2))  # (A, B, J)
    count = common.sum(-1)
    oks = np.where(count > 0, (e * common).sum(-1) / np.maximum(count, 1), 0.0)
    iou = iou_matrix(box_a, box_b)
    return np.where(count >= MIN_COMMON_JOINTS, np.maximum(oks, iou), iou)


Similarity = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _iou(kp_a: np.ndarray, box_a: np.ndarray, kp_b: np.ndarray, box_b: np.ndarray,
         sigmas: np.ndarray) -> np.ndarray:  # fmt: skip
    return iou_matrix(box_a, box_b)


# how tracks and new poses are compared (Settings.track_match)
SIMILARITIES: dict[str, Similarity] = {"oks": oks_matrix, "iou": _iou}
