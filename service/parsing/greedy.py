"""Maps + fields -> poses over the whole image: the greedy PAF grouping of OpenPose (baseline).

Written from Cao et al., CVPR 2017, Sec. 2.4: per limb, a greedy bipartite matching of the
candidates by decreasing integral score; then connections that share a candidate are assembled
into people, merging two partial people when a connection links them. No boxes are used.
"""

from __future__ import annotations

import numpy as np

from service.parsing.config import DEFAULT_CONFIG, ParserConfig
from service.parsing.limbs import Connections, score_connections
from service.parsing.peaks import find_peaks
from service.parsing.poses import build_pose
from service.skeleton import Skeleton
from service.types import Box, Pose


def parse_greedy(
    maps: np.ndarray, fields: np.ndarray, skeleton: Skeleton, stride: int,
    boxes: list[Box] | None = None, config: ParserConfig = DEFAULT_CONFIG,
) -> list[Pose]:
    """maps (J+1, h, w), fields (2C, h, w) at `stride` -> poses in image pixels; ignores boxes."""
    del boxes  # the baseline parses the whole image
    cands = find_peaks(maps, stride, config.peak_threshold, config.max_peaks_per_joint)
    active = np.ones(len(cands), dtype=bool)
    conns = score_connections(cands, active, fields, skeleton, stride, config)
    image_height = maps.shape[1] * stride
    # OpenPose's prior against long connections, and its sample agreement criterion.
    prior = np.minimum(0.5 * image_height / np.maximum(conns.length, 1e-9) - 1.0, 0.0)
    valid = (conns.agreement > config.greedy_sample_fraction) & (conns.score + prior > 0)
    conns = conns.select(valid)
    people = _assemble(_matching(conns), skeleton)
    poses = []
    for ids, limb_scores in people:
        found = ids >= 0
        count = int(found.sum())
        total = float(cands.score[ids[found]].sum() + limb_scores.sum())
        if count < config.greedy_min_joints or total / count < config.greedy_min_mean_score:
            continue
        pose = build_pose(ids, limb_scores, cands, None)
        # OpenPose's person score (joint + connection scores), normalised to [0, 1].
        pose.score = total / (skeleton.num_joints + skeleton.num_limbs)
        poses.append(pose)
    return sorted(poses, key=lambda p: -p.score)


def _matching(conns: Connections) -> list[tuple[int, int, int, float]]:
    """Per limb, connections by decreasing score that share no candidate -> (c, i0, i1, s)."""
    kept: list[tuple[int, int, int, float]] = []
    last, used = -1, set[int]()
    for c, i0, i1, s in zip(
        conns.limb.tolist(), conns.start.tolist(), conns.end.tolist(), conns.score.tolist(),
        strict=True,
    ):
        if c != last:
            last, used = c, set()
        if i0 in used or i1 in used:
            continue
        used.update((i0, i1))
        kept.append((c, i0, i1, s))
    return kept


def _assemble(
    matches: list[tuple[int, int, int, float]], skeleton: Skeleton
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Connections -> people (ids (J,), limb scores (C,)): extend, start or merge people."""
    people: list[tuple[np.ndarray, np.ndarray] | None] = []
    owner: dict[int, int] = {}
    for c, i0, i1, s in matches:
        a, b = skeleton.limbs[c]
        p0, p1 = owner.get(i0), owner.get(i1)
        if p0 is None and p1 is None:
            ids = np.full(skeleton.num_joints, -1, dtype=np.int64)
            ids[a], ids[b] = i0, i1
            scores = np.zeros(skeleton.num_limbs)
            scores[c] = s
            owner[i0] = owner[i1] = len(people)
            people.append((ids, scores))
        elif p1 is None or p0 is None:
            p, joint, cand = (p0, b, i1) if p1 is None else (p1, a, i0)
            assert p is not None
            person = people[p]
            assert person is not None
            if person[0][joint] < 0:
                person[0][joint], person[1][c], owner[cand] = cand, s, p
        elif p0 != p1:
            _merge(people, owner, p0, p1, c, s)
    return [p for p in people if p is not None]


def _merge(
    people: list[tuple[np.ndarray, np.ndarray] | None], owner: dict[int, int], p0: int, p1: int,
    c: int, s: float,
) -> None:
    """Two partial people linked by connection c merge when they use disjoint joints."""
    first, second = people[p0], people[p1]
    assert first is not None and second is not None
    if ((first[0] >= 0) & (second[0] >= 0)).any():
        return
    keep = second[0] >= 0
    first[0][keep] = second[0][keep]
    first[1][:] = np.maximum(first[1], second[1])
    first[1][c] = s
    for cand in second[0][keep].tolist():
        owner[cand] = p0
    people[p1] = None
