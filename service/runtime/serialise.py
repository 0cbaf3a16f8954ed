"""Poses -> plain JSON-ready dicts, shared by the API and `boxpose predict`."""

from __future__ import annotations

from typing import Any

from service.runtime.keypoint_output import KeypointLayout
from service.types import Pose


def pose_dict(pose: Pose, layout: KeypointLayout | None = None) -> dict[str, Any]:
    """{"box", "box_source", "score", "keypoints": one [x, y, score] or None per joint}, the
    joints of `layout` (`keypoint_output`; None: every joint in skeleton order)."""
    chosen = pose.keypoints if layout is None else layout.select(pose.keypoints)
    keypoints: list[list[float] | None] = [
        [round(float(x), 2), round(float(y), 2), round(float(s), 4)] if s > 0 else None
        for x, y, s in chosen
    ]
    box = pose.box
    return {
        "box": [round(v, 2) for v in box.as_list()] if box else [],
        "box_source": box.source.value if box else "none",
        "score": round(float(pose.score), 4),
        "keypoints": keypoints,
    }
