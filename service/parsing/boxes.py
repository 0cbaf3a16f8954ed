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
    conns = score_connections(
        cands, active, fields, skeleton, stride, config, inside, config.end_penalty
    )
    conns = conns.select(conns.score > config.limb_threshold)
    pieces = [
        make_pieces(algorithm1(conns, in_box, skeleton), cands, skeleton.num_joints)
        for in_box in inside
    ]
    poses = [_box_pose(p, cands, box, config) for p, box in zip(pieces, boxes, strict=True)]
    kept = [pose for pose in poses if pose is not None]
    rescore(kept, config)
    if config.use_nms:
        kept = pose_nms(kept, config.nms_eta)
        if config.rechoose:
            kept += _rechoose(pieces, poses, kept, cands, boxes, config)
    if config.use_completion:
        complete_poses(kept, cands, config)
        rescore(kept, config)
    return sorted(kept, key=lambda p: -p.score)


def _box_pose(pieces: list[Piece], cands: Candidates, box: Box, config: ParserConfig,
              merge: bool = False) -> Pose | None:
    """A box's partial people -> its pose (`config.box_choice`), None if too small."""
    if not pieces:
        return None
    options = [build_pose(p.ids, p.limb_scores, cands, box) for p in pieces]
    if config.box_choice == "union":
        members = best_union(pieces, box)
        assert members is not None
        pose = build_pose(*union_arrays(pieces, members), cands, box)
    else:
        if merge:
            rootless = [p for p in pieces if p.ids[config_root(p)] < 0]
            members = best_union(rootless, box)
            if members is not None and len(members) > 1:
                options.append(build_pose(*union_arrays(rootless, members), cands, box))
        pose = max(options, key=BOX_CHOICES[config.box_choice](config))
    return pose if pose.num_visible >= config.min_joints else None


def config_root(p: Piece) -> int:
    return 13


def _rechoose(
    pieces: list[list[Piece]], poses: list[Pose | None], kept: list[Pose], cands: Candidates,
    boxes: list[Box], config: ParserConfig,
) -> list[Pose]:
    """Boxes whose pose NMS removed as another box's duplicate choose again among their pieces
    that no kept pose uses: a box drawn around a person whose body another box also holds gets
    its own person back, a duplicate box finds nothing left (or too little to fit its box)."""
    taken = np.zeros(len(cands), dtype=bool)
    for pose in kept:
        taken[pose.candidate_ids[pose.candidate_ids >= 0]] = True
    kept_ids = {id(p) for p in kept}
    lost = [k for k, p in enumerate(poses) if p is not None and id(p) not in kept_ids]
    lost.sort(key=lambda k: -(poses[k].score))  # type: ignore[union-attr]
    extra = []
    for k in lost:
        free = [p for p in pieces[k] if not taken[p.ids[p.ids >= 0]].any()]
        pose = _box_pose(free, cands, boxes[k], config, config.merge_rootless)
        if pose is None:
            continue
        tight = (*pose.keypoints[pose.visible, :2].min(axis=0),
                 *pose.keypoints[pose.visible, :2].max(axis=0))
        if box_fit(tuple(float(v) for v in tight), boxes[k]) < config.rechoose_min_fit:
            continue
        taken[pose.candidate_ids[pose.candidate_ids >= 0]] = True
        extra.append(pose)
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
