"""COCO ground truth -> maps and fields encoded from it (the targets code) -> parsed poses.

The oracle measures the parser alone: with perfect maps, what AP does parsing reach?
`joints="visible"` draws the maps from the visible joints only (v = 2; hidden ones, v = 1, get
no peak): the AP of a network that localises everything it can see exactly and guesses nothing
behind an occluder, an upper bound for any model that cannot see through people.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from service.parsing import ParserConfig, parse
from service.parsing.config import DEFAULT_CONFIG
from service.skeleton import COCO18, Skeleton, coco17_to_coco18
from service.targets import TargetConfig, encode
from service.types import Box, BoxSource, Pose

DEFAULT_TARGETS = TargetConfig()

# Damages a scene's maps and boxes before parsing (robustness tests, ablation).
Damage = Callable[
    [np.ndarray, np.ndarray, list[Box]], tuple[np.ndarray, np.ndarray, list[Box]]
]


def image_people(
    ground_truth: dict[str, Any], skeleton: Skeleton, limit: int | None = None
) -> Iterator[tuple[dict[str, Any], np.ndarray, list[Box]]]:
    """Each image -> (image entry, keypoints (N, J, 3), GT boxes); no crowd or empty people."""
    by_image: dict[int, list[dict[str, Any]]] = {}
    for ann in ground_truth["annotations"]:
        if not ann.get("iscrowd", 0) and ann.get("num_keypoints", 1) > 0:
            by_image.setdefault(int(ann["image_id"]), []).append(ann)
    images = ground_truth["images"][:limit] if limit else ground_truth["images"]
    for image in images:
        anns = by_image.get(int(image["id"]), [])
        kp = np.array([a["keypoints"] for a in anns], dtype=np.float64)
        if skeleton is COCO18 and kp.size == len(anns) * 17 * 3 > 0:  # COCO-17: neck derived
            kp = coco17_to_coco18(kp)
        kp = kp.reshape(len(anns), skeleton.num_joints, 3)
        boxes = [_box(a["bbox"]) for a in anns]
        yield image, kp, boxes


def _box(bbox: list[float]) -> Box:
    x, y, w, h = (float(v) for v in bbox)
    return Box(x, y, x + max(w, 1.0), y + max(h, 1.0), 1.0, BoxSource.GROUND_TRUTH)


ORACLE_JOINTS = ("all", "visible")


def visible_only(keypoints: np.ndarray) -> np.ndarray:
    """(N, J, 3) keypoints -> a copy where hidden joints (v = 1) are unlabelled (0, 0, 0)."""
    out = np.array(keypoints, dtype=np.float64, copy=True)
    out[out[..., 2] == 1] = 0.0
    return out


def oracle_poses(
    keypoints: np.ndarray, boxes: list[Box] | None, height: int, width: int, skeleton: Skeleton,
    parser: str = "boxes", config: ParserConfig = DEFAULT_CONFIG,
    targets: TargetConfig = DEFAULT_TARGETS, damage: Damage | None = None,
    joints: str = "all",
) -> list[Pose]:
    """(N, J, 3) GT keypoints -> Eq. 1-4 maps and fields -> (damage) -> parsed poses.
    joints: "all" labelled joints make the maps, or only the "visible" ones."""
    if joints not in ORACLE_JOINTS:
        raise ValueError(f"joints must be one of {ORACLE_JOINTS}, not {joints!r}")
    drawn = visible_only(keypoints) if joints == "visible" else keypoints
    encoded = encode(drawn, skeleton, height, width, targets)
    maps, fields, given = encoded.maps, encoded.fields, list(boxes or [])
    if damage is not None:
        maps, fields, given = damage(maps, fields, given)
    return parse(parser, maps, fields, skeleton, targets.stride,
                 given if boxes is not None else None, config)


def oracle_results(
    ground_truth: dict[str, Any], skeleton: Skeleton, parser: str = "boxes",
    config: ParserConfig = DEFAULT_CONFIG, targets: TargetConfig = DEFAULT_TARGETS,
    use_boxes: bool = True, limit: int | None = None, damage: Damage | None = None,
    joints: str = "all",
) -> tuple[list[dict], list[int]]:
    """All images of a COCO dict -> (COCO results entries, evaluated image ids)."""
    from service.evaluation.coco_eval import poses_to_results

    results, ids = [], []
    for image, kp, boxes in image_people(ground_truth, skeleton, limit):
        poses = oracle_poses(kp, boxes if use_boxes else None, int(image["height"]),
                             int(image["width"]), skeleton, parser, config, targets, damage,
                             joints)
        results += poses_to_results(poses, int(image["id"]))
        ids.append(int(image["id"]))
    return results, ids
