"""Poses with missing joints -> completed poses: the best free peak inside each pose's box."""

from __future__ import annotations

import numpy as np

from service.parsing.config import ParserConfig
from service.parsing.limbs import segment_scores
from service.parsing.peaks import Candidates
from service.parsing.poses import tight_box
from service.skeleton import Skeleton
from service.types import Box, Pose, boxes_contain

# completion takes a peak for a box's missing joint only this many snapping reaches from where the
# box regressed the joint (parsing/regressed.py): a joint hidden or out of the frame (the legs of
# a head-and-shoulders portrait) stays missing instead of taking a stray peak. Dev split served
# 0.357 at 2 and without (0.350 at 1); coco-mini 0.248 at 2 and without.
COMPLETION_REACH = 2.0


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
    would be the same peak again. A box carrying the joints its model regressed (`Box.joints`)
    offers only the peaks within `COMPLETION_REACH` snapping reaches of each regressed joint.
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
    touching = _limbs_at(skeleton) if skeleton is not None else {}
    # parents before children when the skeleton is known: a joint completed first guides its child
    dfs_order = np.array([skeleton.root, *(b for _, b in skeleton.limbs)] if skeleton is not None
                         else range(len(cands.by_joint)), dtype=np.int64)  # fmt: skip
    for pose, box in zip(order, boxes, strict=True):
        if box is None:
            continue
        free = box.extended(config.box_extension).contains(cands.xy) & strong & ~used
        regressed = _regressed(box, config, len(pose.candidate_ids))
        for joint in _missing(pose, dfs_order):
            options = cands.by_joint[joint]  # sorted by decreasing score
            options = options[free[options]]
            if regressed is not None:
                points, reach = regressed
                near = np.linalg.norm(cands.xy[options] - points[joint], axis=1) <= reach
                options = options[near]
            if options.size == 0:
                continue
            pick = int(options[0])
            if touching and fields is not None and options.size > 1:
                pick = _linked(pose, joint, options, cands, fields, touching, stride, config,
                               known)  # fmt: skip
            used[pick], free[pick] = True, False
            pose.candidate_ids[joint] = pick
            pose.keypoints[joint, :2] = cands.xy[pick]
            pose.keypoints[joint, 2] = max(cands.score[pick], 1e-6)
    return poses


Pairs = dict[tuple[int, int, int], float]  # (limb, start candidate, end candidate) -> Eq. 5


def _pair_scores(
    poses: list[Pose], boxes: list[Box | None], used: np.ndarray, strong: np.ndarray,
    cands: Candidates, fields: np.ndarray, skeleton: Skeleton, stride: int, config: ParserConfig,
) -> Pairs:
    """Eq. 5 of every segment completion may weigh, in one vectorised call: for each pose and
    each limb touching a joint it lacks, the pairs from its own candidate of each joint it has
    (or, of a joint it lacks, every free peak in its box at the start: the peaks free later, and
    the joints it completes, are among them) to the same at the limb's other end."""
    boxed = [(pose, box) for pose, box in zip(poses, boxes, strict=True)
             if box is not None and (pose.candidate_ids < 0).any()]  # fmt: skip
    if not boxed:
        return {}
    ids = np.stack([pose.candidate_ids for pose, _ in boxed])  # (P, J)
    extended = [box.extended(config.box_extension) for _, box in boxed]
    free = boxes_contain(extended, cands.xy) & strong & ~used  # (P, N)
    own = ids[:, cands.joint]  # (P, N) the pose's candidate of each candidate's joint
    allowed = np.where(own >= 0, own == np.arange(len(cands)), free).astype(np.int32)  # (P, N)
    ends_of = np.asarray(skeleton.limbs, dtype=np.int64)  # (C, 2)
    needs = (ids[:, ends_of[:, 0]] < 0) | (ids[:, ends_of[:, 1]] < 0)  # (P, C) lacks a joint
    limbs, starts, ends = [], [], []
    for c in np.flatnonzero(needs.any(axis=0)).tolist():
        at_a, at_b = cands.by_joint[ends_of[c, 0]], cands.by_joint[ends_of[c, 1]]  # (Ka,), (Kb,)
        rows = allowed[needs[:, c]]
        ia, ib = np.nonzero(rows[:, at_a].T @ rows[:, at_b])  # a pair some pose may weigh
        limbs.append(np.full(ia.size, c, dtype=np.int64))
        starts.append(at_a[ia])
        ends.append(at_b[ib])
    if not limbs:
        return {}
    limb, start, end = np.concatenate(limbs), np.concatenate(starts), np.concatenate(ends)
    scores, _ = segment_scores(fields, limb, cands.xy[start], cands.xy[end], stride, config)
    return dict(zip(zip(limb.tolist(), start.tolist(), end.tolist(), strict=True),
                    scores.tolist(), strict=True))  # fmt: skip


def _regressed(box: Box, config: ParserConfig, num_joints: int
               ) -> tuple[np.ndarray, float] | None:  # fmt: skip
    """A box carrying the joints its model regressed (`Box.joints`, with `regression_reach`
    set) -> (those joints in pixels (J, 2), how far from them completion may take a peak:
    `COMPLETION_REACH` x the snapping reach x the box's larger side); None for other boxes."""
    if config.snap_reach <= 0 or box.joints is None or len(box.joints) != num_joints:
        return None
    points = box.joint_points()
    assert points is not None
    return points, COMPLETION_REACH * config.snap_reach * max(box.width, box.height)


def _missing(pose: Pose, order: np.ndarray) -> list[int]:
    """The joints the pose lacks, in `order`."""
    return order[pose.candidate_ids[order] < 0].tolist()


def _limbs_at(skeleton: Skeleton) -> dict[int, list[tuple[int, int, int]]]:
    """Joint -> the (limb, parent joint, child joint) of each limb touching it."""
    touching: dict[int, list[tuple[int, int, int]]] = {j: [] for j in range(skeleton.num_joints)}
    for c, (a, b) in enumerate(skeleton.limbs):
        touching[a].append((c, a, b))
        touching[b].append((c, a, b))
    return touching


def _linked(
    pose: Pose, joint: int, options: np.ndarray, cands: Candidates, fields: np.ndarray,
    touching: dict[int, list[tuple[int, int, int]]], stride: int, config: ParserConfig,
    known: Pairs | None = None,
) -> int:
    """options (K,) candidate ids of `joint` -> the one best joined by a limb field to a joint
    the pose has (Eq. 5, limb direction kept), or the highest peak if none is joined.
    `touching`: `_limbs_at(skeleton)`. `known`: scores computed beforehand (`_pair_scores`), by
    (limb, start candidate, end candidate)."""
    best, best_score = int(options[0]), config.limb_threshold
    for c, a, b in touching[joint]:
        other = b if joint == a else a
        anchor_id = int(pose.candidate_ids[other])
        if anchor_id < 0:
            continue
        ids = options.tolist()
        pairs = [(c, k, anchor_id) for k in ids] if joint == a else [(c, anchor_id, k) for k in ids]
        looked_up = [known.get(pair) for pair in pairs] if known else [None]
        if None in looked_up:
            anchor = np.repeat(pose.keypoints[other, None, :2], options.size, axis=0)  # (K, 2)
            ends = cands.xy[options]
            pa, pb = (ends, anchor) if joint == a else (anchor, ends)
            scores: list[float] = segment_scores(fields, np.full(options.size, c), pa, pb,
                                                 stride, config)[0].tolist()  # fmt: skip
        else:
            scores = [float(s) for s in looked_up if s is not None]
        k = max(range(len(scores)), key=lambda i: scores[i])  # the first of equals, as argmax
        if scores[k] > best_score:
            best, best_score = ids[k], scores[k]
    return best
