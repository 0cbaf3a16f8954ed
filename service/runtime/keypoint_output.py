"""A model's skeleton -> the keypoints its answers list, named and in order.

A COCO-18 model (OpenPose's layout with the neck it predicts) answers COCO's own 17 keypoints, in
COCO's order, so its output reads like any COCO keypoint result; `keep_neck` adds the neck last
(18). Every other skeleton answers all its joints in its own order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service.skeleton import COCO17_JOINTS, COCO18, Skeleton

COCO17_NAMES = COCO17_JOINTS


@dataclass(frozen=True)
class KeypointLayout:
    names: tuple[str, ...]  # (K,) the answered keypoints' names
    index: tuple[int, ...]  # (K,) each one's joint index in the model's skeleton

    def select(self, keypoints: np.ndarray) -> np.ndarray:
        """(J, 3) keypoints in skeleton order -> (K, 3) in this layout."""
        return np.asarray(keypoints)[list(self.index)]


def keypoint_layout(skeleton: Skeleton, keep_neck: bool = False) -> KeypointLayout:
    """COCO-17 for a COCO-18 skeleton (plus the neck with `keep_neck`), else every joint."""
    coco17 = skeleton.name == COCO18.name and not keep_neck
    names = COCO17_NAMES if coco17 else skeleton.joints
    return KeypointLayout(names, tuple(skeleton.joint(n) for n in names))
