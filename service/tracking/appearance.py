"""A person's look -> a small colour descriptor, to know them again after they were hidden.

Motion alone loses a person who walks behind another for more than a few frames: the last pose
seen is often a partial one, so the predicted place drifts and OKS, which is strict, finds no
match when they come out. Their clothes are still the same colours. The descriptor is the mean
CIE Lab colour of a small patch at each found joint and at the joints' centre (the torso), never
the whole box, which holds neighbours and background (DeepSORT's appearance cue, without a
network).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from service.tracking.similarity import iou_matrix

PATCH = 0.03  # patch half-size, fraction of the person's box height
MIN_COMMON = 4  # fewer patches seen in both: no opinion
COLOUR_SCALE = 12.0  # Lab distance at which the similarity falls to 1/e
GALLERY = 8  # clear views a track keeps; the best of them speaks for it (DeepSORT's gallery)


@dataclass(frozen=True)
class Look:
    colours: np.ndarray  # (J + 1, 3) mean Lab per joint patch, then the centre's
    seen: np.ndarray  # (J + 1,) bool: the patch was inside the image and its joint found


def lab_image(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (H, W, 3) float32 Lab (L in 0..100)."""
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def look(lab: np.ndarray, keypoints: np.ndarray, box: np.ndarray,
         scale: tuple[float, float] = (1.0, 1.0)) -> Look:  # fmt: skip
    """A pose's look in a Lab image: (J, 3) keypoints and (4,) box in pixels of an image
    `1 / scale` times this one (a video's own pixels, this its working-size frame)."""
    sx, sy = scale
    found = keypoints[:, 2] > 0
    points = keypoints[:, :2] * (sx, sy)  # (J, 2)
    centre = points[found].mean(0) if found.any() else np.zeros(2)
    points = np.vstack([points, centre])  # (J + 1, 2)
    seen = np.append(found, found.any())
    half = max(1, round(PATCH * (box[3] - box[1]) * sy))
    h, w = lab.shape[:2]
    colours = np.zeros((len(points), 3), np.float32)
    for i, (x, y) in enumerate(np.round(points).astype(int)):
        if not seen[i] or not (0 <= x < w and 0 <= y < h):
            seen[i] = False
            continue
        patch = lab[max(y - half, 0) : y + half + 1, max(x - half, 0) : x + half + 1]
        colours[i] = patch.reshape(-1, 3).mean(0)
    return Look(colours, seen)


def look_similarity(a: Look, b: Look) -> float:
    """exp(-median Lab distance / COLOUR_SCALE) over the patches both saw (the median: a few
    patches on a neighbour or the background do not decide); 0 with too few."""
    both = a.seen & b.seen
    if both.sum() < MIN_COMMON:
        return 0.0
    distance = np.median(np.linalg.norm(a.colours[both] - b.colours[both], axis=1))
    return float(np.exp(-distance / COLOUR_SCALE))


def gallery_similarity(gallery: list[Look], seen: Look) -> float:
    return max((look_similarity(g, seen) for g in gallery), default=0.0)


def clear_views(boxes: list[np.ndarray], max_iou: float = 0.2) -> list[bool]:
    """Which boxes overlap no other by more than `max_iou`: a look worth learning from."""
    if len(boxes) < 2:
        return [True] * len(boxes)
    iou = iou_matrix(np.stack(boxes), np.stack(boxes))
    np.fill_diagonal(iou, 0.0)
    return [bool(row.max() <= max_iou) for row in iou]
