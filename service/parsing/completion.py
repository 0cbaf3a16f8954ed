"""Poses with missing joints -> completed poses: the best free peak inside each pose's box."""

from __future__ import annotations

import numpy as np

from service.parsing.config import ParserConfig
from service.parsing.peaks import Candidates
from service.parsing.poses import tight_box
from service.types import Pose


def complete_poses(poses: list[Pose], cands: Candidates, config: ParserConfig) -> list[Pose]:
    """Sec. III-D, in place: for each joint a pose lacks, take the highest peak of that joint's
    map inside the pose's (extended) box; if another pose already uses it, the next highest, and
    so on. Poses are served in decreasing score, so the most confident one chooses first.

    Candidates are local maxima (not raw pixels): the "next highest point" beside a taken peak
    would be the same peak again.
    """
    used = np.zeros(len(cands), dtype=bool)
    for pose in poses:
        ids = pose.candidate_ids
        used[ids[ids >= 0]] = True
    strong = cands.score >= config.completion_threshold  # (N,)
    for pose in sorted(poses, key=lambda p: -p.score):
        box = pose.box if pose.box is not None else tight_box(pose.keypoints)
        if box is None:
            continue
        free = box.extended(config.box_extension).contains(cands.xy) & strong & ~used
        for joint in np.flatnonzero(pose.candidate_ids < 0):
            options = cands.by_joint[joint]  # sorted by decreasing score
            options = options[free[options]]
            if options.size == 0:
                continue
            pick = int(options[0])
            used[pick], free[pick] = True, False
            pose.candidate_ids[joint] = pick
            pose.keypoints[joint] = (*cands.xy[pick], max(float(cands.score[pick]), 1e-6))
    return poses
