"""Poses found in images -> one COCO keypoints document (the model's skeleton as category).

Per person: `keypoints` [x, y, v] per joint (v 2 when its confidence >= `visible_at`, else 1:
labelled, maybe occluded; 0 for joints not found or placed outside the photo, which a top-down
model extrapolates), `keypoint_scores` the per-joint confidences, `score` the pose's,
`bbox` the box the pose was found in (clipped to the image), `box_source`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from service.skeleton import Skeleton
from service.types import Pose


@dataclass(frozen=True)
class LabelConfig:
    min_score: float = 0.5  # people below this pose score are left out
    visible_at: float = 0.5  # joint confidence from which a joint is marked visible (v = 2)


def category(skeleton: Skeleton) -> dict[str, Any]:
    return {"id": 1, "name": "person", "supercategory": "person",
            "keypoints": list(skeleton.joints),
            "skeleton": [[a + 1, b + 1] for a, b in skeleton.limbs]}  # COCO: 1-based


def annotation(pose: Pose, image_id: int, ann_id: int, size: tuple[int, int],
               config: LabelConfig) -> dict[str, Any]:
    """One pose -> a COCO keypoint annotation; size is the image's (H, W)."""
    kp = pose.keypoints.astype(np.float64)  # (J, 3) x, y, confidence
    height, width = size
    inside = (kp[:, 0] >= 0) & (kp[:, 0] <= width - 1) & (kp[:, 1] >= 0) & (kp[:, 1] <= height - 1)
    found = (kp[:, 2] > 0) & inside  # joints placed outside the photo are guesses: unlabelled
    flags = np.where(kp[:, 2] >= config.visible_at, 2, 1) * found
    triplets = np.stack([np.where(found, kp[:, 0], 0), np.where(found, kp[:, 1], 0), flags], 1)
    if pose.box is not None:
        x1, y1, x2, y2 = pose.box.as_list()
    else:
        (x1, y1), (x2, y2) = kp[kp[:, 2] > 0, :2].min(axis=0), kp[kp[:, 2] > 0, :2].max(axis=0)
    x1, x2 = float(np.clip(x1, 0, width)), float(np.clip(x2, 0, width))
    y1, y2 = float(np.clip(y1, 0, height)), float(np.clip(y2, 0, height))
    return {
        "id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 0,
        "keypoints": [round(float(v), 2) for v in triplets.reshape(-1)],
        "num_keypoints": int(found.sum()),
        "keypoint_scores": [round(float(s), 4) for s in kp[:, 2]],
        "score": round(float(pose.score), 4),
        "bbox": [round(v, 2) for v in (x1, y1, x2 - x1, y2 - y1)],
        "area": round((x2 - x1) * (y2 - y1), 2),
        "box_source": pose.box.source.value if pose.box is not None else "none",
    }  # fmt: skip


def document(images: list[dict[str, Any]], poses: list[list[Pose]], skeleton: Skeleton,
             info: dict[str, Any], config: LabelConfig) -> dict[str, Any]:
    """images: COCO image entries (id, file_name, width, height); poses: per image."""
    annotations: list[dict[str, Any]] = []
    for image, found in zip(images, poses, strict=True):
        for pose in found:
            if pose.score >= config.min_score and pose.num_visible > 0:  # visible: found
                annotations.append(annotation(pose, image["id"], len(annotations) + 1,
                                              (image["height"], image["width"]), config))
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return {"info": {**info, "date_created": created}, "images": images,
            "annotations": annotations, "categories": [category(skeleton)]}
