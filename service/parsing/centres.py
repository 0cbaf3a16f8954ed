"""MoveNet's centre heads -> people: our decoding of its six stride-4 maps, any number of people.

MoveNet MultiPose's graph decodes its heads itself but keeps the top 6 centres. This follows its
graph step by step (read from the tfjs model's nodes after the heads), without the cap:

1. centres: cells of the centre map that equal their 5 x 5 max-pool (SAME, the graph's
   |c - maxpool| < 1e-6) and exceed `centre_threshold`; all of them, strongest first;
2. each person's box from the box heads at its centre: centre + box_offset, size box_scale
   (clamped at 0), clipped to the map;
3. each joint: the regressed point (centre + kpt_regress) snapped to the cell of the joint map
   maximising heatmap * exp(-d^2 / (0.3 * min(h, w))) inside the person's box (the graph's
   Gaussian weighting by distance to the regressed point; `weighting="inverse"` is MoveNet
   single-pose's 1 / (d + offset) instead), refined by kpt_offset; its score is that weighted
   value, the maximum over all people at that cell (as the graph scores it);
4. the person's score: centre score x mean of its joint scores above 0.127 (the graph's).

Coordinates: cell (i, j) + offset (dy, dx) is the input point ((j + dx) * 4, (i + dy) * 4), as the
graph's normalised output (x / width after * 4) puts it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from service.skeleton import COCO18
from service.types import Box, BoxSource, Pose

NUM_JOINTS = 17  # COCO-17, MoveNet's order
_NECK = COCO18.joints.index("neck")
_SHOULDERS = (COCO18.joints.index("left_shoulder"), COCO18.joints.index("right_shoulder"))


@dataclass(frozen=True)
class CentreDecodeConfig:
    centre_threshold: float = 0.1  # a centre peak below this is no person
    max_people: int | None = None  # MoveNet's graph: 6; None = every peak
    peak_window: int = 5  # the graph's max-pool window for centre peaks
    weighting: str = "gaussian"  # a key of WEIGHTINGS
    distance_scale: float = 0.3  # gaussian: exp(-d^2 / (distance_scale * min(h, w)))
    distance_offset: float = 1.0  # inverse: 1 / (d + distance_offset), d in cells
    joint_threshold: float = 0.126953125  # joints counted in the person score (the graph's)
    stride: int = 4


def _gaussian(d2: np.ndarray, config: CentreDecodeConfig, size: int) -> np.ndarray:
    return np.exp(-d2 / (config.distance_scale * size))  # the graph's weighting


def _inverse(d2: np.ndarray, config: CentreDecodeConfig, size: int) -> np.ndarray:
    return 1.0 / (np.sqrt(d2) + config.distance_offset)  # MoveNet single-pose's weighting


# how a joint map's cells are weighted by their distance d to the regressed point
WEIGHTINGS = {"gaussian": _gaussian, "inverse": _inverse}


@dataclass(frozen=True)
class CentrePerson:
    """One decoded person, in input pixels."""

    keypoints: np.ndarray  # (17, 3) x, y, score in COCO-17 order
    score: float
    box: np.ndarray  # (4,) x1, y1, x2, y2 from the box heads
    centre: np.ndarray  # (3,) x, y, centre score


def centre_peaks(centre: np.ndarray, threshold: float, window: int = 5
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """(h, w) centre map -> rows, cols, scores of its local maxima above `threshold`, strongest
    first (a max-pool with SAME padding: padded cells never win)."""
    pad = window // 2
    padded = np.pad(centre, pad, constant_values=-np.inf)
    pooled = sliding_window_view(padded, (window, window)).max(axis=(-2, -1))  # (h, w)
    rows, cols = np.nonzero((np.abs(centre - pooled) < 1e-6) & (centre > threshold))
    scores = centre[rows, cols]
    order = np.argsort(-scores, kind="stable")
    return rows[order], cols[order], scores[order]


def decode(centre: np.ndarray, heatmaps: np.ndarray, regress: np.ndarray, offsets: np.ndarray,
           box_scale: np.ndarray, box_offset: np.ndarray,
           config: CentreDecodeConfig = CentreDecodeConfig()) -> list[CentrePerson]:  # fmt: skip
    """One image's heads (centre (1, h, w), heatmaps (17, h, w), regress and offsets (34, h, w)
    as (dy, dx) per joint, box_scale and box_offset (2, h, w)) -> its people, strongest first."""
    h, w = centre.shape[-2:]
    rows, cols, scores = centre_peaks(centre[0], config.centre_threshold, config.peak_window)
    if config.max_people is not None:
        rows, cols, scores = rows[: config.max_people], cols[: config.max_people], \
            scores[: config.max_people]  # fmt: skip
    if rows.size == 0:
        return []
    reg = regress[:, rows, cols].T.reshape(-1, NUM_JOINTS, 2)  # (K, 17, (dy, dx))
    ry, rx = rows[:, None] + reg[..., 0], cols[:, None] + reg[..., 1]  # (K, 17)
    size = np.maximum(box_scale[:, rows, cols].T, 0.0)  # (K, (h, w))
    cy, cx = rows + box_offset[0, rows, cols], cols + box_offset[1, rows, cols]
    y1, y2 = np.clip(cy - size[:, 0] / 2, 0, h), np.clip(cy + size[:, 0] / 2, 0, h)
    x1, x2 = np.clip(cx - size[:, 1] / 2, 0, w), np.clip(cx + size[:, 1] / 2, 0, w)
    yy, xx = np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64)
    inside = (((yy >= y1[:, None]) & (yy < y2[:, None]))[:, :, None]
              & ((xx >= x1[:, None]) & (xx < x2[:, None]))[:, None, :])  # (K, h, w)
    d2 = (yy[None, None, :, None] - ry[..., None, None]) ** 2 \
        + (xx[None, None, None, :] - rx[..., None, None]) ** 2  # (K, 17, h, w)
    weighted = heatmaps[None] * WEIGHTINGS[config.weighting](d2, config, min(h, w)) \
        * inside[:, None]  # fmt: skip
    best = weighted.reshape(*weighted.shape[:2], -1).argmax(-1)  # (K, 17)
    by, bx = np.divmod(best, w)
    joints = np.arange(NUM_JOINTS)
    if config.weighting == "gaussian":  # the graph: the weighted value, max over people
        joint_score = weighted.max(axis=0)[joints, by, bx]
    else:  # single-pose: the heatmap's value where the joint snapped
        joint_score = heatmaps[joints, by, bx]
    dy, dx = offsets[2 * joints, by, bx], offsets[2 * joints + 1, by, bx]
    s = config.stride
    keypoints = np.stack([(bx + dx) * s, (by + dy) * s, joint_score], -1)  # (K, 17, 3)
    strong = joint_score > config.joint_threshold
    person = scores * (joint_score * strong).sum(1) / np.maximum(strong.sum(1), 1)
    boxes = np.stack([x1, y1, x2, y2], -1) * s
    return [CentrePerson(keypoints[k], float(person[k]), boxes[k],
                         np.array([cols[k] * s, rows[k] * s, scores[k]]))
            for k in range(rows.size)]  # fmt: skip


def to_poses(people: list[CentrePerson], scale: float = 1.0) -> list[Pose]:
    """Decoded people -> Poses in COCO-18 (neck at the shoulders' midpoint, the weaker
    shoulder's score), coordinates divided by `scale` (input size / image size)."""
    poses = []
    for p in people:
        kp = np.zeros((COCO18.num_joints, 3))
        kp[:NUM_JOINTS, :2] = p.keypoints[:, :2] / scale
        kp[:NUM_JOINTS, 2] = p.keypoints[:, 2]
        left, right = kp[_SHOULDERS[0]], kp[_SHOULDERS[1]]
        kp[_NECK] = [(left[0] + right[0]) / 2, (left[1] + right[1]) / 2, min(left[2], right[2])]
        x1, y1, x2, y2 = (float(v) / scale for v in p.box)
        box = Box(x1, y1, max(x2, x1), max(y2, y1), p.score, BoxSource.BOX_HEAD)
        poses.append(Pose(kp, p.score, box))
    return poses
