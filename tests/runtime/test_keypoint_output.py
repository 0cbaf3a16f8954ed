"""What a pose's answer lists: COCO-17 for a COCO-18 model (the neck on request), else the
skeleton's own joints; `pose_dict` picks them by name, in that order."""

from __future__ import annotations

import numpy as np

from service.runtime.keypoint_output import keypoint_layout
from service.runtime.serialise import pose_dict
from service.skeleton import AIC14, COCO18
from service.types import Pose

COCO17 = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
          "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
          "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")  # fmt: skip


def test_coco18_answers_cocos_17_and_the_neck_on_request() -> None:
    assert keypoint_layout(COCO18).names == COCO17
    with_neck = keypoint_layout(COCO18, keep_neck=True)
    assert with_neck.names == (*COCO17, "neck")
    assert keypoint_layout(AIC14).names == AIC14.joints
    assert keypoint_layout(AIC14, keep_neck=True).names == AIC14.joints


def test_pose_dict_keeps_the_layouts_joints_in_order() -> None:
    kp = np.zeros((18, 3))
    kp[:, 0] = np.arange(18)  # x = joint index in COCO18
    kp[:, 2] = 0.5
    kp[COCO18.joint("left_eye"), 2] = 0.0  # not found
    body = pose_dict(Pose(kp, 0.9), keypoint_layout(COCO18))
    assert len(body["keypoints"]) == 17 and body["keypoints"][1] is None
    assert [k[0] for k in body["keypoints"] if k] == [0, *range(2, 17)]
    full = pose_dict(Pose(kp, 0.9), keypoint_layout(COCO18, keep_neck=True))
    assert full["keypoints"][17] == [17.0, 0.0, 0.5]
    assert pose_dict(Pose(kp, 0.9))["keypoints"] == full["keypoints"]  # no layout: all joints
