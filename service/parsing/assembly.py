"""Connections in one box -> partial people (Algorithm 1) -> the box's pose (a union of them).

Algorithm 1 starts a person at the start joint of a limb that no person holds yet, so a person
whose root (the neck) is missing, truncated by the image border or not found, falls apart into
pieces (head, arms, legs) that no limb field joins. The box was drawn around one person: its
pose is the set of pieces, sharing no joint type, whose joints' tight box fits the box best.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service.parsing.limbs import Connections
from service.parsing.peaks import Candidates
from service.skeleton import Skeleton
from service.types import Box


@dataclass(frozen=True)
class Piece:
    """One partial person found by Algorithm 1."""

    ids: np.ndarray  # (J,) candidate id per joint, -1 = none
    limb_scores: np.ndarray  # (C,) Eq. 5 score of each connected limb, 0 = not connected
    types: int  # bit j set = joint j found
    bounds: tuple[float, float, float, float]  # x1, y1, x2, y2 of its joints
    joints: int  # number of joints found


def algorithm1(conns: Connections, inside: np.ndarray, skeleton: Skeleton) -> list[list[int]]:
    """Algorithm 1 with the candidates inside one box -> people as candidate ids per joint, and
    limb scores appended (J + C entries each; ids -1 = none).

    conns: grouped by limb (DFS order), each group by decreasing score; inside: (N,) bool.
    """
    keep = inside[conns.start] & inside[conns.end]
    j = skeleton.num_joints
    people: list[list] = []  # per person: candidate id per joint, then limb scores
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
            people.append([-1] * j + [0.0] * skeleton.num_limbs)
            people[p][a], owner[i0] = i0, p
        if people[p][b] < 0:  # line 17: the end joint joins the start joint's person
            people[p][b], owner[i1] = i1, p
            people[p][j + c] = s
    return people


def make_pieces(people: list[list], cands: Candidates, num_joints: int) -> list[Piece]:
    """`algorithm1` rows -> Pieces with their joint types and bounds."""
    pieces = []
    for row in people:
        ids = np.array(row[:num_joints], dtype=np.int64)
        found = ids >= 0
        xy = cands.xy[ids[found]]  # (K, 2)
        (x1, y1), (x2, y2) = xy.min(axis=0), xy.max(axis=0)
        types = int((found.astype(np.int64) << np.arange(num_joints)).sum())
        pieces.append(Piece(ids, np.array(row[num_joints:], dtype=np.float64), types,
                            (float(x1), float(y1), float(x2), float(y2)), int(found.sum())))
    return pieces


def box_fit(bounds: tuple[float, float, float, float], box: Box) -> float:
    """Intersection over union of the joints' tight box and the person box."""
    x1, y1, x2, y2 = bounds
    iw = max(min(x2, box.x2) - max(x1, box.x1), 0.0)
    ih = max(min(y2, box.y2) - max(y1, box.y1), 0.0)
    inter = iw * ih
    union = (x2 - x1) * (y2 - y1) + box.area - inter
    return inter / union if union > 0 else 0.0


def _merge(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, float, float, float]:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def best_union(pieces: list[Piece], box: Box, max_seeds: int = 8) -> list[int] | None:
    """Indices of the pieces, sharing no joint type, whose union fits `box` best (`box_fit`,
    then most joints): from each of the largest `max_seeds` pieces, greedily add the piece
    that raises the fit most while it rises. None if there is no piece."""
    if not pieces:
        return None
    order = sorted(range(len(pieces)), key=lambda k: -pieces[k].joints)
    best: tuple[float, int] = (-1.0, 0)
    chosen: list[int] = []
    for seed in order[:max_seeds]:
        members, types = [seed], pieces[seed].types
        bounds = pieces[seed].bounds
        fit, joints = box_fit(bounds, box), pieces[seed].joints
        while True:
            step = max(
                ((box_fit(_merge(bounds, pieces[k].bounds), box), pieces[k].joints, k)
                 for k in order if not pieces[k].types & types),
                default=None,
            )  # fmt: skip
            if step is None or step[0] <= fit + 1e-9:
                break
            fit, joints = step[0], joints + step[1]
            members.append(step[2])
            types |= pieces[step[2]].types
            bounds = _merge(bounds, pieces[step[2]].bounds)
        if (fit, joints) > best:
            best, chosen = (fit, joints), members
    return chosen


def union_arrays(pieces: list[Piece], members: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The chosen pieces -> (candidate ids (J,), limb scores (C,)) of one pose."""
    ids = np.max(np.stack([pieces[k].ids for k in members]), axis=0)  # types are disjoint
    limb_scores = np.max(np.stack([pieces[k].limb_scores for k in members]), axis=0)
    return ids, limb_scores
