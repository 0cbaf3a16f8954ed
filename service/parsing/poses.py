"""Candidate ids per joint -> named `Pose` results, and the pose confidence of Eq. 9."""

from __future__ import annotations

import numpy as np

from service.parsing.config import ParserConfig
from service.parsing.peaks import Candidates
from service.types import Box, Pose


def build_pose(
    ids: np.ndarray, limb_scores: np.ndarray, cands: Candidates, box: Box | None
) -> Pose:
    """ids (J,) candidate per joint (-1 = none), limb_scores (C,) (0 = not connected) -> Pose.

    Joints not found have x = y = score = 0. The score is set later by `pose_confidence`.
    """
    ids = np.asarray(ids, dtype=np.int64)
    keypoints = np.zeros((ids.shape[0], 3))  # (J, 3)
    found = ids >= 0
    keypoints[found, :2] = cands.xy[ids[found]]
    keypoints[found, 2] = np.maximum(cands.score[ids[found]], 1e-6)
    return Pose(keypoints, 0.0, box, ids, np.asarray(limb_scores, dtype=np.float64))


def tight_box(keypoints: np.ndarray) -> Box | None:
    """(J, 3) keypoints -> the smallest box around the found joints (None if none is found)."""
    found = keypoints[:, 2] > 0
    if not found.any():
        return None
    xy = keypoints[found, :2]
    (x1, y1), (x2, y2) = xy.min(axis=0), xy.max(axis=0)
    return Box(float(x1), float(y1), float(x2), float(y2))


def pose_confidence(pose: Pose, config: ParserConfig) -> float:
    """Eq. 9: alpha * mean joint score + beta * mean limb score + gamma * S(B' n B) / S(B' u B).

    B' = B'(Y) is the tight box of the found joints, B = B(Y) the pose's box (the tight box
    itself when the pose has none, as for the greedy parser). The paper's term is S(B') / S(B):
    the same while the joints lie in the box, as they do when Algorithm 1 looks only there.
    Parsing looks past the box (`ParserConfig.search_extension`), so the term is their
    intersection over union: a person reaching out of a shifted box keeps most of it, a larger
    neighbour who covers a small box does not win it by covering it.
    """
    found = pose.visible
    if not found.any():
        return 0.0
    s1 = float(pose.keypoints[found, 2].mean())
    connected = pose.limb_scores > 0
    s2 = float(pose.limb_scores[connected].mean()) if connected.any() else 0.0
    tight = tight_box(pose.keypoints)
    ratio = 1.0
    if pose.box is not None and tight is not None and pose.box.area > 0:
        box = pose.box
        width = max(min(tight.x2, box.x2) - max(tight.x1, box.x1), 0.0)
        height = max(min(tight.y2, box.y2) - max(tight.y1, box.y1), 0.0)
        inter = width * height
        ratio = inter / max(tight.area + box.area - inter, 1e-9) if config.area_term == "iou" \
            else min(tight.area / box.area, 1.0)
    return config.alpha * s1 + config.beta * s2 + config.gamma * ratio


def confidences(
    ids: np.ndarray, limb_scores: np.ndarray, cands: Candidates, box: Box | None,
    config: ParserConfig,
) -> np.ndarray:
    """ids (P, J), limb_scores (P, C) of P would-be poses in `box` -> (P,) Eq. 9 of each, as
    `pose_confidence` computes it on their `build_pose` (to rounding), without building them."""
    found = ids >= 0  # (P, J)
    safe = np.where(found, ids, 0)
    scores = np.where(found, np.maximum(cands.score[safe], 1e-6), 0.0)
    count = found.sum(axis=1)
    s1 = scores.sum(axis=1) / np.maximum(count, 1)
    connected = limb_scores > 0
    s2 = np.where(connected, limb_scores, 0.0).sum(axis=1) / np.maximum(connected.sum(axis=1), 1)
    xy = cands.xy[safe]  # (P, J, 2)
    lo = np.where(found[..., None], xy, np.inf).min(axis=1)  # (P, 2)
    hi = np.where(found[..., None], xy, -np.inf).max(axis=1)
    ratio: np.ndarray | float = 1.0
    if box is not None and box.area > 0:  # the part of the tight box inside the box
        inside = np.minimum(hi, [box.x2, box.y2]) - np.maximum(lo, [box.x1, box.y1])  # (P, 2)
        inter = np.prod(np.where(count[:, None] > 0, np.clip(inside, 0.0, None), 0.0), axis=1)
        area = np.prod(np.clip(np.where(count[:, None] > 0, hi - lo, 0.0), 0.0, None), axis=1)
        ratio = inter / np.maximum(area + box.area - inter, 1e-9) if config.area_term == "iou" \
            else np.minimum(area / box.area, 1.0)
    conf = config.alpha * s1 + config.beta * s2 + config.gamma * ratio
    return np.where(count > 0, conf, 0.0)


def pose_coverage(pose: Pose) -> float:
    """Half the mean joint score over all J joints plus half the mean limb score over all C
    limbs, a missing joint or an unconnected limb counting 0.

    The output score that ranks poses for AP: a pose connected limb by limb through the fields
    is more likely right than one whose joints were completed or whose parts were merged, and
    Eq. 9's area term, meant to choose within a box, says little about correctness.
    """
    joints = float(pose.keypoints[:, 2].sum()) / max(len(pose.keypoints), 1)
    limbs = float(np.maximum(pose.limb_scores, 0).sum()) / max(len(pose.limb_scores), 1)
    return 0.5 * joints + 0.5 * limbs


def rescore(poses: list[Pose], config: ParserConfig, final: bool = False) -> list[Pose]:
    """Sets each pose's score to Eq. 9 (or, for the `final` output with
    `config.output_score == "coverage"`, `pose_coverage`) times its box's score (1 for client
    boxes)."""
    measure = pose_coverage if final and config.output_score == "coverage" else None
    for pose in poses:
        box_score = pose.box.score if pose.box is not None else 1.0
        value = measure(pose) if measure else pose_confidence(pose, config)
        pose.score = value * float(box_score)
    return poses
