"""A box whose model regressed its person's joints -> one more piece for the box to choose:
each regressed joint snapped to the joint map's peak nearby.

A box head that points from a person's centre to each of their joints (MoveNet's: its
`kpt_regress` read at the centre cell, carried by the box as `Box.joints`) says where the joints
of the person it boxed should be. MoveNet's own decoding snaps each regressed point to the
joint's heatmap, weighting every cell by value / (distance in cells + 1.8) (the constant of
MoveNet single-pose's graph, `add_5/y`); here the cells are the candidate peaks inside the
box's search region, and a peak further than `ParserConfig.regression_reach` times the box's
larger side is no option (a hidden joint snaps nowhere rather than to a neighbour's). The
snapped joints, their limbs scored by Eq. 5, join the box's pieces from Algorithm 1: Eq. 9 then
chooses between the person the fields connected and the person the centre points at, and
joint ownership keeps one person's joints from answering two boxes.
"""

from __future__ import annotations

import numpy as np

from service.parsing.assembly import Piece, make_pieces
from service.parsing.config import ParserConfig
from service.parsing.limbs import segment_scores
from service.parsing.peaks import Candidates
from service.skeleton import Skeleton
from service.types import Box, boxes_contain

SNAP_OFFSET = 1.8  # cells: a peak's weight is its value / (its distance in cells + this)


def snapped_joints(points: np.ndarray, boxes: list[Box], cands: Candidates, active: np.ndarray,
                   stride: int, config: ParserConfig) -> np.ndarray:  # fmt: skip
    """points (B, J, 2) regressed joints in image pixels, one row per box -> (B, J) candidate
    ids, -1 where no active peak of the joint lies in the box's search region within reach."""
    regions = [box.extended(config.search_region) for box in boxes]
    reach = config.snap_reach * np.array([max(b.width, b.height) for b in boxes])  # (B,)
    inside = boxes_contain(regions, cands.xy) & active  # (B, N)
    distance = np.linalg.norm(cands.xy[None] - points[:, cands.joint], axis=-1)  # (B, N)
    weight = np.where(inside & (distance <= reach[:, None]),
                      cands.score / (distance / stride + SNAP_OFFSET), -1.0)  # fmt: skip
    ids = np.full(points.shape[:2], -1, dtype=np.int64)
    for j, options in enumerate(cands.by_joint):  # each joint's candidates: one block
        if options.size:
            best = np.argmax(weight[:, options], axis=1)  # (B,)
            ids[:, j] = np.where(weight[np.arange(len(boxes)), options[best]] > 0,
                                 options[best], -1)  # fmt: skip
    return ids


def with_regressed(pieces: list[list[Piece]], boxes: list[Box], cands: Candidates,
                   active: np.ndarray, fields: np.ndarray, skeleton: Skeleton, stride: int,
                   config: ParserConfig) -> list[list[Piece]]:  # fmt: skip
    """Each box's pieces, and for the boxes carrying regressed joints of this skeleton one more:
    the snapped joints (`snapped_joints`) with the Eq. 5 score of each limb whose two joints
    snapped (0 under `limb_threshold`: not connected)."""
    carrying = [k for k, box in enumerate(boxes)
                if box.joints is not None and len(box.joints) == skeleton.num_joints]  # fmt: skip
    if not carrying or config.snap_reach <= 0:
        return pieces
    points = np.stack([boxes[k].joint_points() for k in carrying])  # type: ignore[misc]
    ids = snapped_joints(points, [boxes[k] for k in carrying], cands, active, stride, config)
    limbs = np.asarray(skeleton.limbs, dtype=np.int64)  # (C, 2)
    start, end = ids[:, limbs[:, 0]], ids[:, limbs[:, 1]]  # (B, C)
    both = (start >= 0) & (end >= 0)
    row, limb = np.nonzero(both)
    scores = np.zeros(both.shape)
    if row.size:
        s, _ = segment_scores(fields, limb, cands.xy[start[row, limb]], cands.xy[end[row, limb]],
                              stride, config)  # fmt: skip
        scores[row, limb] = np.where(s > config.limb_threshold, s, 0.0)
    out = list(pieces)
    for i, k in enumerate(carrying):
        if (ids[i] >= 0).sum() >= config.min_joints:
            out[k] = [*pieces[k], *make_pieces([[*ids[i].tolist(), *scores[i].tolist()]], cands,
                                              skeleton.num_joints)]  # fmt: skip
    return out
