"""Poses with missing joints -> completed poses: the best free peak inside each pose's box."""

from __future__ import annotations

from itertools import product

import numpy as np

from service.parsing.config import ParserConfig
from service.parsing.limbs import segment_scores
from service.parsing.peaks import Candidates
from service.parsing.poses import tight_box
from service.skeleton import Skeleton
from service.types import Box, Pose


def complete_poses(
    poses: list[Pose], cands: Candidates, config: ParserConfig,
    fields: np.ndarray | None = None, skeleton: Skeleton | None = None, stride: int = 4,
) -> list[Pose]:
    """Sec. III-D, in place: for each joint a pose lacks, take the highest peak of that joint's
    map inside the pose's (extended) box; if another pose already uses it, the next highest, and
    so on. Poses are served in decreasing score, so the most confident one chooses first.

    Given the fields and skeleton, a free peak that a limb field joins to one of the pose's
    joints (Eq. 5 above `limb_threshold`) comes before the highest peak: where several people's
    peaks are in the box, the one the field points to is this person's.
    Candidates are local maxima (not raw pixels): the "next highest point" beside a taken peak
    would be the same peak again.
    """
    used = np.zeros(len(cands), dtype=bool)
    for pose in poses:
        ids = pose.candidate_ids
        used[ids[ids >= 0]] = True
    strong = cands.score >= config.completion_threshold  # (N,)
    order = sorted(poses, key=lambda p: -p.score)
    boxes = [pose.box if pose.box is not None else tight_box(pose.keypoints) for pose in order]
    known = _pair_scores(order, boxes, used, strong, cands, fields, skeleton, stride, config) \
        if fields is not None and skeleton is not None else {}  # fmt: skip
    for pose, box in zip(order, boxes, strict=True):
        if box is None:
            continue
        free = box.extended(config.box_extension).contains(cands.xy) & strong & ~used
        for joint in _missing_in_dfs_order(pose, skeleton):
            options = cands.by_joint[joint]  # sorted by decreasing score
            options = options[free[options]]
            if options.size == 0:
                continue
            pick = int(options[0])
            if fields is not None and skeleton is not None and options.size > 1:
                pick = _linked(pose, joint, options, cands, fields, skeleton, stride, config,
                               known)  # fmt: skip
            used[pick], free[pick] = True, False
            pose.candidate_ids[joint] = pick
            pose.keypoints[joint] = (*cands.xy[pick], max(float(cands.score[pick]), 1e-6))
    return poses


Pairs = dict[tuple[int, int, int], float]  # (limb, start candidate, end candidate) -> Eq. 5


def _pair_scores(
    poses: list[Pose], boxes: list[Box | None], used: np.ndarray, strong: np.ndarray,
    cands: Candidates, fields: np.ndarray, skeleton: Skeleton, stride: int, config: ParserConfig,
) -> Pairs:
    """Eq. 5 of every segment completion may weigh, in one vectorised call: for each pose, each
    limb touching a joint it lacks, every pair of its own candidates and the free peaks in its
    box at the start (the peaks free later, and the joints it completes, are among them)."""
    wanted: set[tuple[int, int, int]] = set()
    for pose, box in zip(poses, boxes, strict=True):
        missing = pose.candidate_ids < 0
        if box is None or not missing.any():
            continue
        free = box.extended(config.box_extension).contains(cands.xy) & strong & ~used
        near = np.union1d(np.flatnonzero(free), pose.candidate_ids[~missing])  # (S,)
        by_joint = {j: near[cands.joint[near] == j].tolist() for j in range(missing.size)}
        for c, (a, b) in enumerate(skeleton.limbs):
            if missing[a] or missing[b]:
                wanted.update(product((c,), by_joint[a], by_joint[b]))
    if not wanted:
        return {}
    keys = list(wanted)
    limb, start, end = np.array(keys, dtype=np.int64).T
    scores, _ = segment_scores(fields, limb, cands.xy[start], cands.xy[end], stride, config)
    return dict(zip(keys, scores.tolist(), strict=True))


def _missing_in_dfs_order(pose: Pose, skeleton: Skeleton | None) -> list[int]:
    """The pose's missing joints, parents before children when the skeleton is known (a joint
    completed first can then guide its child)."""
    missing = set(np.flatnonzero(pose.candidate_ids < 0).tolist())
    if skeleton is None:
        return sorted(missing)
    order = [skeleton.root, *(b for _, b in skeleton.limbs)]
    return [j for j in order if j in missing]


def _linked(
    pose: Pose, joint: int, options: np.ndarray, cands: Candidates, fields: np.ndarray,
    skeleton: Skeleton, stride: int, config: ParserConfig, known: Pairs | None = None,
) -> int:
    """options (K,) candidate ids of `joint` -> the one best joined by a limb field to a joint
    the pose has (Eq. 5, limb direction kept), or the highest peak if none is joined. `known`:
    scores computed beforehand (`_pair_scores`), by (limb, start candidate, end candidate)."""
    best, best_score = int(options[0]), config.limb_threshold
    for c, (a, b) in enumerate(skeleton.limbs):
        if joint not in (a, b):
            continue
        other = b if joint == a else a
        if pose.candidate_ids[other] < 0:
            continue
        anchor_id = int(pose.candidate_ids[other])
        pairs = [(c, int(k), anchor_id) if joint == a else (c, anchor_id, int(k)) for k in options]
        if known and all(pair in known for pair in pairs):
            scores = np.array([known[pair] for pair in pairs])
        else:
            anchor = np.repeat(pose.keypoints[other, None, :2], options.size, axis=0)  # (K, 2)
            ends = cands.xy[options]
            pa, pb = (ends, anchor) if joint == a else (anchor, ends)
            scores, _ = segment_scores(fields, np.full(options.size, c), pa, pb, stride, config)
        k = int(np.argmax(scores))
        if scores[k] > best_score:
            best, best_score = int(options[k]), float(scores[k])
    return best
