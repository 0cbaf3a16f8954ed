"""Random seed -> synthetic multi-person keypoint scenes (no images), as COCO-format files.

Articulated stick people of varying sizes, overlapping and truncated by the image border, for
the oracle evaluation, the parser's tests and the benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from service.skeleton import AIC14, Skeleton
from service.types import Box

# AIC-14 standing pose, x right, y down, in units of the person's height, neck at the origin.
_AIC14_CANONICAL = np.array([
    [-0.11, 0.02], [-0.14, 0.19], [-0.15, 0.34],  # right shoulder, elbow, wrist
    [0.11, 0.02], [0.14, 0.19], [0.15, 0.34],  # left
    [-0.07, 0.40], [-0.08, 0.61], [-0.08, 0.82],  # right hip, knee, ankle
    [0.07, 0.40], [0.08, 0.61], [0.08, 0.82],  # left
    [0.0, -0.17], [0.0, 0.0],  # head top, neck
])  # fmt: skip
# COCO-18 (COCO's 17, then the neck) in the same frame: the face from nose, eyes and ears.
_COCO18_CANONICAL = np.array([
    [0.0, -0.09], [0.025, -0.11], [-0.025, -0.11], [0.05, -0.10], [-0.05, -0.10],  # face
    [0.11, 0.02], [-0.11, 0.02], [0.14, 0.19], [-0.14, 0.19], [0.15, 0.34], [-0.15, 0.34],
    [0.07, 0.40], [-0.07, 0.40], [0.08, 0.61], [-0.08, 0.61], [0.08, 0.82], [-0.08, 0.82],
    [0.0, 0.0],  # neck
])  # fmt: skip
CANONICAL = {"aic14": _AIC14_CANONICAL, "coco18": _COCO18_CANONICAL}


@dataclass(frozen=True)
class SceneConfig:
    height: int = 480
    width: int = 640
    min_people: int = 1
    max_people: int = 10
    min_size: float = 80.0  # person height in pixels
    max_size: float = 300.0
    limb_angle: float = 30.0  # std of each limb's rotation, degrees
    truncation: float = 0.0  # the neck may lie this fraction of the image outside it
    occluded: float = 0.1  # probability that a joint is flagged occluded (v = 1)
    min_separation: float = 20.0  # same-type joints of two people at least this far (pixels)
    min_joints: int = 4  # people with fewer joints inside the image are redrawn


@dataclass(frozen=True)
class Scene:
    keypoints: np.ndarray  # (N, J, 3) x, y, v (0 unlabelled, 1 occluded, 2 visible)
    boxes: tuple[Box, ...]  # N ground-truth boxes around the labelled joints
    height: int
    width: int


def random_person(rng: np.random.Generator, skeleton: Skeleton, size: float, cfg: SceneConfig,
                  centre: np.ndarray) -> np.ndarray:
    """One articulated person -> (J, 2): each limb rotated about its parent joint (DFS)."""
    canonical = CANONICAL[skeleton.name] * (-1 if rng.random() < 0.5 else 1, 1)
    xy = np.zeros_like(canonical)
    xy[skeleton.root] = canonical[skeleton.root]
    tilt = rng.normal(0.0, np.radians(8.0))
    for a, b in skeleton.limbs:  # DFS: the parent is always placed first
        angle = tilt + rng.normal(0.0, np.radians(cfg.limb_angle))
        c, s = np.cos(angle), np.sin(angle)
        v = canonical[b] - canonical[a]
        xy[b] = xy[a] + (c * v[0] - s * v[1], s * v[0] + c * v[1])
    return centre + xy * size


def random_scene(rng: np.random.Generator, cfg: SceneConfig = SceneConfig(),
                 skeleton: Skeleton = AIC14, people: int | None = None) -> Scene:
    """A scene of `people` (default: random in [min_people, max_people]) people."""
    n = int(rng.integers(cfg.min_people, cfg.max_people + 1)) if people is None else people
    kept: list[np.ndarray] = []
    for _ in range(50 * max(n, 1)):
        if len(kept) == n:
            break
        size = rng.uniform(cfg.min_size, cfg.max_size)
        t = cfg.truncation
        centre = rng.uniform((-t * cfg.width, -t * cfg.height),
                             ((1 + t) * cfg.width - 1, (1 + t) * cfg.height - 1))
        person = _label(random_person(rng, skeleton, size, cfg, centre), rng, cfg)
        if (person[:, 2] > 0).sum() >= cfg.min_joints and _separated(person, kept, cfg):
            kept.append(person)
    keypoints = np.array(kept).reshape(-1, skeleton.num_joints, 3)
    return Scene(keypoints, tuple(box_of(p) for p in keypoints), cfg.height, cfg.width)


def _label(xy: np.ndarray, rng: np.random.Generator, cfg: SceneConfig) -> np.ndarray:
    """(J, 2) -> (J, 3): joints outside the image unlabelled (0, 0, 0), some occluded (v = 1)."""
    inside = (xy[:, 0] >= 0) & (xy[:, 0] <= cfg.width - 1)
    inside &= (xy[:, 1] >= 0) & (xy[:, 1] <= cfg.height - 1)
    v = np.where(rng.random(len(xy)) < cfg.occluded, 1.0, 2.0)
    return np.where(inside[:, None], np.column_stack([xy, v]), 0.0)


def _separated(person: np.ndarray, others: list[np.ndarray], cfg: SceneConfig) -> bool:
    for other in others:
        both = (person[:, 2] > 0) & (other[:, 2] > 0)
        dist = np.linalg.norm(person[:, :2] - other[:, :2], axis=1)
        if (dist[both] < cfg.min_separation).any():
            return False
    return True


def box_of(keypoints: np.ndarray, margin: float = 0.0) -> Box:
    """(J, 3) -> the box around the labelled joints, grown by `margin` (fraction)."""
    xy = keypoints[keypoints[:, 2] > 0, :2]
    (x1, y1), (x2, y2) = xy.min(axis=0), xy.max(axis=0)
    return Box(float(x1), float(y1), float(x2), float(y2)).extended(margin)


def scenes_to_coco(scenes: list[Scene], skeleton: Skeleton = AIC14) -> dict[str, Any]:
    """Scenes -> a COCO keypoint dict (images, annotations, one category), area = box area."""
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for image_id, scene in enumerate(scenes, start=1):
        images.append({"id": image_id, "file_name": f"{image_id:06d}.jpg",
                       "height": scene.height, "width": scene.width})
        for kp, box in zip(scene.keypoints, scene.boxes, strict=True):
            annotations.append({
                "id": len(annotations) + 1, "image_id": image_id, "category_id": 1,
                "keypoints": [float(v) for v in kp.ravel()],
                "num_keypoints": int((kp[:, 2] > 0).sum()),
                "bbox": [box.x1, box.y1, box.width, box.height],
                "area": float(box.area), "iscrowd": 0,
            })  # fmt: skip
    return {"images": images, "annotations": annotations, "categories": [category(skeleton)]}


def category(skeleton: Skeleton) -> dict[str, Any]:
    """The COCO person category of a skeleton (limbs 1-based, as COCO stores them)."""
    return {"id": 1, "name": "person", "supercategory": "person",
            "keypoints": list(skeleton.joints),
            "skeleton": [[a + 1, b + 1] for a, b in skeleton.limbs]}
