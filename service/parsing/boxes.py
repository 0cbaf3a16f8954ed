"""Maps + fields + person boxes -> one pose per box (Algorithm 1), then pose NMS and completion."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from service.parsing.completion import complete_poses
from service.parsing.config import DEFAULT_CONFIG, ParserConfig
from service.parsing.limbs import Connections, score_connections
from service.parsing.nms import pose_nms
from service.parsing.peaks import Candidates, find_peaks
from service.parsing.poses import build_pose, pose_confidence, rescore
from service.skeleton import Skeleton
from service.types import Box, Pose


def parse_in_boxes(
    maps: np.ndarray, fields: np.ndarray, skeleton: Skeleton, stride: int,
    boxes: list[Box] | None, config: ParserConfig = DEFAULT_CONFIG,
) -> list[Pose]:
    """maps (J+1, h, w), fields (2C, h, w) at `stride`, boxes in image pixels -> poses.

    Sec. III-B/C/D: Algorithm 1 in each (extended) box, pose NMS (Eq. 9-11), pose completion.
    A box in which no connection is found produces nothing.
    """
    if not boxes:
        return []
    cands = find_peaks(
        maps, stride, min(config.peak_threshold, config.completion_threshold),
        config.max_peaks_per_joint,
    )
    active = cands.score >= config.peak_threshold
    inside = np.stack(
        [box.extended(config.box_extension).contains(cands.xy) & active for box in boxes]
    )  # (B, N)
    conns = score_connections(cands, active, fields, skeleton, stride, config, inside)
    conns = conns.select(conns.score > config.limb_threshold)
    poses = []
    for box, in_box in zip(boxes, inside, strict=True):
        pose = parse_box(conns, in_box, cands, skeleton, box, config)
        if pose is not None and pose.num_visible >= config.min_joints:
            poses.append(pose)
    rescore(poses, config)
    if config.use_nms:
        poses = pose_nms(poses, config.nms_eta)
    if config.use_completion:
        complete_poses(poses, cands, config)
        rescore(poses, config)
    return sorted(poses, key=lambda p: -p.score)


def parse_box(
    conns: Connections, inside: np.ndarray, cands: Candidates, skeleton: Skeleton, box: Box,
    config: ParserConfig,
) -> Pose | None:
    """Algorithm 1 for one box: limbs in DFS order, connections by decreasing score, no joint
    shared. Several partial people may result; the box keeps the one that explains it best
    (`config.box_choice`)."""
    keep = inside[conns.start] & inside[conns.end]
    people: list[list[int]] = []  # per person: candidate id per joint
    limb_scores: list[list[float]] = []
    owner: dict[int, int] = {}  # candidate id -> person
    last_limb, used_start, used_end = -1, set[int](), set[int]()
    for c, i0, i1, s in zip(
        conns.limb[keep].tolist(), conns.start[keep].tolist(), conns.end[keep].tolist(),
        conns.score[keep].tolist(), strict=True,
    ):  # grouped by limb (DFS order), each group by decreasing score (line 5)
        if c != last_limb:
            last_limb, used_start, used_end = c, set(), set()
        if i0 in used_start or i1 in used_end:  # line 7: shares a joint with a kept one
            continue
        used_start.add(i0)
        used_end.add(i1)
        a, b = skeleton.limbs[c]
        p = owner.get(i0)
        if p is None:  # line 15: a new person with both joints
            p = len(people)
            people.append([-1] * skeleton.num_joints)
            limb_scores.append([0.0] * skeleton.num_limbs)
            people[p][a], owner[i0] = i0, p
        if people[p][b] < 0:  # line 17: the end joint joins the start joint's person
            people[p][b], owner[i1] = i1, p
            limb_scores[p][c] = s
    if not people:
        return None
    poses = [
        build_pose(np.array(ids), np.array(scores), cands, box)
        for ids, scores in zip(people, limb_scores, strict=True)
    ]
    return max(poses, key=BOX_CHOICES[config.box_choice](config))


def _by_joints(config: ParserConfig) -> Callable[[Pose], tuple[float, float]]:
    """Most joints first, then the highest sum of joint and limb scores."""
    return lambda p: (p.num_visible, float(p.keypoints[:, 2].sum() + p.limb_scores.sum()))


def _by_confidence(config: ParserConfig) -> Callable[[Pose], tuple[float, float]]:
    """Highest Eq. 9 confidence (its area term prefers the person the box was drawn around)."""
    return lambda p: (pose_confidence(p, config), p.num_visible)


BOX_CHOICES: dict[str, Callable[[ParserConfig], Callable[[Pose], tuple[float, float]]]] = {
    "joints": _by_joints,
    "confidence": _by_confidence,
}
