"""Maps + fields + person boxes -> one pose per box (Algorithm 1), then pose NMS and completion."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from service.parsing.assembly import (
    Piece,
    algorithm1,
    best_union,
    box_fit,
    make_pieces,
    union_arrays,
)
from service.parsing.completion import complete_poses
from service.parsing.config import DEFAULT_CONFIG, ParserConfig
from service.parsing.limbs import score_connections
from service.parsing.nms import pose_nms
from service.parsing.peaks import Candidates, find_peaks
from service.parsing.poses import build_pose, confidences, pose_confidence, rescore, tight_box
from service.parsing.regressed import with_regressed
from service.skeleton import Skeleton
from service.types import Box, Pose, boxes_contain


def parse_in_boxes(
    maps: np.ndarray, fields: np.ndarray, skeleton: Skeleton, stride: int,
    boxes: list[Box] | None, config: ParserConfig = DEFAULT_CONFIG,
) -> list[Pose]:
    """maps (J+1, h, w), fields (2C, h, w) at `stride`, boxes in image pixels -> poses.

    Sec. III-B/C/D: Algorithm 1 in each box, grown by `config.search_extension` so that a
    person sticking out of a loose or shifted box keeps their joints; each box's pose chosen by
    Eq. 9 (whose area term is the IoU of the pose's tight box and the box), with every candidate
    joint owned by one box at most (`config.joint_ownership`, `owned_poses`: the box decides
    whose joints they are, so a box reaching over a neighbour cannot answer the neighbour); pose
    NMS (Eq. 9-11); pose completion (boxes where nothing connected may be filled by it:
    `complete_empty_boxes`). Without ownership, boxes choose independently and the boxes whose
    pose NMS removed choose again among the pieces left free (`config.rechoose`).
    Returned by decreasing output score (`config.output_score`).
    """
    if not boxes:
        return []
    cands = find_peaks(
        maps, stride, min(config.peak_threshold, config.completion_threshold),
        config.max_peaks_per_joint,
    )
    active = cands.score >= config.peak_threshold
    inside = boxes_contain([box.extended(config.search_region) for box in boxes], cands.xy) \
        & active  # (B, N)
    conns = score_connections(cands, active, fields, skeleton, stride, config, inside)
    conns = conns.select(conns.score > config.limb_threshold)
    pieces = [
        make_pieces(algorithm1(conns, in_box, skeleton), cands, skeleton.num_joints)
        for in_box in inside
    ]
    pieces = with_regressed(pieces, boxes, cands, active, fields, skeleton, stride, config)
    if config.joint_ownership:
        poses = owned_poses(pieces, cands, boxes, config)
    else:
        poses = [_box_pose(p, cands, box, config, skeleton.root)
                 for p, box in zip(pieces, boxes, strict=True)]
    kept = [pose for pose in poses if pose is not None]
    rescore(kept, config)
    if config.use_nms:
        kept = pose_nms(kept, config.nms_eta)
        if config.rechoose and not config.joint_ownership:
            kept += _rechoose(pieces, poses, kept, cands, boxes, config, skeleton.root)
    if config.use_completion:
        # boxes where nothing connected; under ownership also those left with nothing free
        left = [pose is None if config.joint_ownership else not p
                for pose, p in zip(poses, pieces, strict=True)]  # fmt: skip
        empty = [_empty_pose(skeleton, box) for box, e in zip(boxes, left, strict=True)
                 if e] if config.complete_empty_boxes else []  # fmt: skip
        complete_poses(kept + empty, cands, config, fields, skeleton, stride)
        kept += [pose for pose in empty if pose.num_visible >= config.min_joints]
    rescore(kept, config, final=True)
    return sorted(kept, key=lambda p: -p.score)


def owned_poses(pieces: list[list[Piece]], cands: Candidates, boxes: list[Box],
                config: ParserConfig) -> list[Pose | None]:  # fmt: skip
    """Each box's partial people (Algorithm 1 in its search region) -> one pose per box (None
    where nothing is left), every candidate joint owned by one box at most.

    The most confident choice first: of all (box, piece) pairs, the highest Eq. 9 in that box
    (its area term, the IoU of the piece's tight box and the box, is what ties a person to the
    box drawn around them); that box takes the piece and owns its joints; a piece holding an
    owned joint is no longer an option for any other box; repeat. A neighbour standing in a
    loose or shifted box is taken first by the neighbour's own box, where it fits better, and
    the box keeps the person it was drawn around; two boxes around one person: the one it fits
    best takes it, the other is left with what is free (often nothing).
    """
    ids, limb_scores, conf, box_of = [], [], [], []
    for k, (box_pieces, box) in enumerate(zip(pieces, boxes, strict=True)):
        usable = [p for p in box_pieces if p.joints >= config.min_joints]
        if usable:
            ids.append(np.stack([p.ids for p in usable]))  # (P, J)
            limb_scores.append(np.stack([p.limb_scores for p in usable]))  # (P, C)
            conf.append(confidences(ids[-1], limb_scores[-1], cands, box, config))
            box_of.append(np.full(len(usable), k))
    poses: list[Pose | None] = [None] * len(boxes)
    if not ids:
        return poses
    # every (box, piece) pair, box by box: argmax takes the first of equals, as a scan would
    all_ids, all_limbs = np.concatenate(ids), np.concatenate(limb_scores)  # (Q, J), (Q, C)
    all_conf, all_boxes = np.concatenate(conf), np.concatenate(box_of)  # (Q,), (Q,)
    owned = np.zeros(len(cands) + 1, dtype=bool)  # the last entry stands for "no joint" (-1)
    open_pair = np.ones(len(all_conf), dtype=bool)  # its box is open, none of its joints owned
    while open_pair.any():
        q = int(np.argmax(np.where(open_pair, all_conf, -np.inf)))
        k = int(all_boxes[q])
        poses[k] = build_pose(all_ids[q], all_limbs[q], cands, boxes[k])
        owned[all_ids[q][all_ids[q] >= 0]] = True
        open_pair &= (all_boxes != k) & ~owned[all_ids].any(axis=1)
    return poses


def _empty_pose(skeleton: Skeleton, box: Box) -> Pose:
    """A box in which Algorithm 1 connected nothing: a pose with no joint yet, which completion
    may fill with the free peaks inside the box (a person cut down to unconnected joints)."""
    ids = np.full(skeleton.num_joints, -1, dtype=np.int64)
    return Pose(np.zeros((skeleton.num_joints, 3)), 0.0, box, ids, np.zeros(skeleton.num_limbs))


def _box_pose(pieces: list[Piece], cands: Candidates, box: Box, config: ParserConfig,
              root: int, merge: bool = False) -> Pose | None:
    """A box's partial people (Algorithm 1) -> its pose: the one that explains the box best
    (`config.box_choice`), or with `merge` also the union of the pieces lacking the root;
    None if too small."""
    if not pieces:
        return None
    options = [(p.ids, p.limb_scores) for p in pieces]
    if merge:  # the pieces of a person without its root, joined (`assembly.best_union`)
        rootless = [p for p in pieces if p.ids[root] < 0]
        members = best_union(rootless, box)
        if members is not None and len(members) > 1:
            options.append(union_arrays(rootless, members))
    pose = _choose(options, cands, box, config)
    return pose if pose.num_visible >= config.min_joints else None


def _choose(options: list[tuple[np.ndarray, np.ndarray]], cands: Candidates, box: Box,
            config: ParserConfig) -> Pose:  # fmt: skip
    """The best of a box's options (candidate ids (J,), limb scores (C,)) by
    `config.box_choice`, the first on ties. For "confidence", Eq. 9 of all options at once
    (`confidences`: a crowded box has tens of pieces), then only the options within rounding of
    the best are built and compared exactly, so the choice is the same as building them all."""
    if config.box_choice == "confidence" and len(options) > 1:
        ids = np.stack([o[0] for o in options])  # (P, J)
        conf = confidences(ids, np.stack([o[1] for o in options]), cands, box, config)
        options = [o for o, c in zip(options, conf, strict=True) if c >= conf.max() - 1e-9]
    poses = [build_pose(ids, limb_scores, cands, box) for ids, limb_scores in options]
    return max(poses, key=BOX_CHOICES[config.box_choice](config))


def _rechoose(
    pieces: list[list[Piece]], poses: list[Pose | None], kept: list[Pose], cands: Candidates,
    boxes: list[Box], config: ParserConfig, root: int,
) -> list[Pose]:
    """Boxes whose pose NMS removed as another box's duplicate choose again among their pieces
    that no kept pose uses: a box drawn around a person whose body another box also holds gets
    its own person back, a duplicate box finds nothing left (or too little to fit its box)."""
    taken = np.zeros(len(cands), dtype=bool)
    for pose in kept:
        taken[pose.candidate_ids[pose.candidate_ids >= 0]] = True
    kept_ids = {id(p) for p in kept}
    lost = sorted(
        ((p.score, k) for k, p in enumerate(poses) if p is not None and id(p) not in kept_ids),
        reverse=True,
    )  # fmt: skip
    extra = []
    for _, k in lost:
        free = [p for p in pieces[k] if not taken[p.ids[p.ids >= 0]].any()]
        chosen = _box_pose(free, cands, boxes[k], config, root, config.merge_rootless)
        tight = tight_box(chosen.keypoints) if chosen is not None else None
        if chosen is None or tight is None:
            continue
        if box_fit((tight.x1, tight.y1, tight.x2, tight.y2), boxes[k]) < config.rechoose_min_fit:
            continue
        taken[chosen.candidate_ids[chosen.candidate_ids >= 0]] = True
        extra.append(chosen)
    rescore(extra, config)
    return extra


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


def supplement(boxes: list[Box], extra: list[Box], max_iou: float) -> list[Box]:
    """`boxes` plus each box of `extra` that overlaps none of them by IoU >= max_iou."""
    if not extra:
        return boxes
    iou = pairwise_iou(np.array([e.as_list() for e in extra]),
                       np.array([b.as_list() for b in boxes]))  # fmt: skip
    return list(boxes) + [box for box, row in zip(extra, iou, strict=True) if row.max() < max_iou]


def pairwise_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 4), (M, 4) xyxy -> (N, M) intersection over union."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)
