"""maps + fields + boxes -> poses.

Candidate joints (`peaks`), limb scores by Eq. 5 (`limbs`), Algorithm 1 in each person box
(`boxes`), pose NMS by Eq. 9-11 (`nms`), pose completion (`completion`), and the greedy
whole-image grouping of OpenPose (`greedy`) as the baseline; multi-scale and mirror fusion
(`multiscale`).
Both parsers take maps (J+1, h, w) and fields (2C, h, w) at `stride` and return poses in image
pixels; `PARSERS` names them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from service.parsing.boxes import pairwise_iou, parse_in_boxes, supplement
from service.parsing.config import DEFAULT_CONFIG, ParserConfig
from service.parsing.greedy import parse_greedy
from service.parsing.multiscale import PAPER_SCALES, fuse_scales, unflip_outputs
from service.parsing.poses import tight_box
from service.skeleton import Skeleton
from service.types import Box, BoxSource, Pose

Parser = Callable[
    [np.ndarray, np.ndarray, Skeleton, int, "list[Box] | None", ParserConfig], list[Pose]
]

PARSERS: dict[str, Parser] = {"boxes": parse_in_boxes, "greedy": parse_greedy}


def parse(
    name: str, maps: np.ndarray, fields: np.ndarray, skeleton: Skeleton, stride: int,
    boxes: list[Box] | None, config: ParserConfig = DEFAULT_CONFIG,
) -> list[Pose]:
    """maps (J+1, h, w), fields (2C, h, w) at `stride` -> poses in image pixels, best first.

    name: a key of `PARSERS`. The greedy parser ignores boxes. The box parser given no boxes
    (None) falls back to boxes around a first greedy grouping (`boxes_from_poses`); given an
    empty list it returns no pose. Track boxes are joined by greedy ones (`track_max_iou`) and
    the poses parsed in them are answered in the box of their own joints (`reboxed`).
    """
    if name not in PARSERS:
        raise ValueError(f"unknown parser {name!r}; choose from {sorted(PARSERS)}")
    if name != "boxes":
        return PARSERS[name](maps, fields, skeleton, stride, boxes, config)
    tracked = any(b.source is BoxSource.TRACK for b in boxes or [])
    joining = None if boxes is None else _greedy_join(boxes, config)
    if boxes is None or joining is not None:
        greedy = boxes_from_poses(parse_greedy(maps, fields, skeleton, stride, None, config))
        boxes = greedy if boxes is None or joining is None else supplement(boxes, greedy, joining)
    poses = PARSERS[name](maps, fields, skeleton, stride, boxes, config)
    return [reboxed(p) for p in poses] if tracked else poses


def _greedy_join(boxes: list[Box], config: ParserConfig) -> float | None:
    """The IoU under which a greedy box joins the given boxes: a model's (when
    `supplement_detector_boxes`) or track boxes; None: no greedy boxes are made."""
    if any(box.source.from_a_model for box in boxes):
        return config.supplement_max_iou if config.supplement_detector_boxes else None
    if any(box.source is BoxSource.TRACK for box in boxes):
        return config.track_max_iou
    return None


def reboxed(pose: Pose) -> Pose:
    """A pose parsed in a track box gets the box of its own joints (as a greedy box is made),
    so that the next frame's track box follows the person, not last frame's box."""
    if pose.box is None or pose.box.source is not BoxSource.TRACK:
        return pose
    own = boxes_from_poses([pose])
    if not own:
        return pose
    return replace(pose, box=replace(own[0], score=pose.box.score, source=BoxSource.TRACK))


def boxes_from_poses(poses: list[Pose], margin: float = 0.2) -> list[Box]:
    """Detector-free fallback: the tight box of each pose's joints grown by `margin` of its
    width and height (at least a few pixels), source "greedy", score = the pose's score."""
    boxes = []
    for pose in poses:
        tight = tight_box(pose.keypoints)
        if tight is None:
            continue
        grown = tight.extended(margin)
        pad = 4.0
        boxes.append(
            Box(grown.x1 - pad, grown.y1 - pad, grown.x2 + pad, grown.y2 + pad,
                min(max(pose.score, 1e-3), 1.0), BoxSource.GREEDY)
        )  # fmt: skip
    return boxes


__all__ = [
    "PAPER_SCALES", "PARSERS", "Parser", "ParserConfig", "boxes_from_poses", "fuse_scales",
    "parse", "parse_greedy", "parse_in_boxes", "pairwise_iou", "reboxed", "supplement",
    "unflip_outputs",
]  # fmt: skip
