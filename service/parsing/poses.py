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
    """Eq. 9: alpha * mean joint score + beta * mean limb score + gamma * S(B'(Y)) / S(B(Y)).

    B'(Y) is the tight box of the found joints, B(Y) the pose's box (the tight box itself when
    the pose has none, as for the greedy parser); the area ratio is capped at 1.
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
        ratio = min(tight.area / pose.box.area, 1.0)
    return config.alpha * s1 + config.beta * s2 + config.gamma * ratio


def rescore(poses: list[Pose], config: ParserConfig) -> list[Pose]:
    """Sets each pose's score to Eq. 9 times its box's score (1 for client boxes)."""
    for pose in poses:
        box_score = pose.box.score if pose.box is not None else 1.0
        pose.score = pose_confidence(pose, config) * float(box_score)
    return poses
