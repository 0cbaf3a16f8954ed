"""BlazePose's 33 body landmarks -> a project skeleton: the AI Challenger 14 joints (AIC14), two
of them derived, or COCO-18 (COCO's 17 are landmarks, the neck derived).

Twelve AIC joints are BlazePose landmarks one to one (shoulders, elbows, wrists, hips, knees,
ankles). BlazePose has neither a neck nor a head top:
- neck = the midpoint of the two shoulders (AIC's neck is labelled between them, a little
  higher; documented in docs/blazepose.md);
- head top = the centre of the head's landmarks (ears' and eyes' midpoints) moved along the
  face's "up" (mouth midpoint -> eyes midpoint) by HEAD_TOP_UP times that distance.
COCO's 17 joints (nose, eyes, ears, shoulders .. ankles) are all BlazePose landmarks (`COCO17`).
Derived joints take the smallest visibility of the landmarks they are made of.
"""

from __future__ import annotations

import numpy as np

from service.skeleton import AIC14, COCO18, Skeleton

# BlazePose landmark indices (mediapipe PoseLandmark)
NOSE, LEFT_EYE, RIGHT_EYE, LEFT_EAR, RIGHT_EAR, MOUTH_LEFT, MOUTH_RIGHT = 0, 2, 5, 7, 8, 9, 10
LEFT_SHOULDER, RIGHT_SHOULDER = 11, 12

# AIC14 joint name -> BlazePose landmark index
DIRECT: dict[str, int] = {
    "right_shoulder": 12, "right_elbow": 14, "right_wrist": 16,
    "left_shoulder": 11, "left_elbow": 13, "left_wrist": 15,
    "right_hip": 24, "right_knee": 26, "right_ankle": 28,
    "left_hip": 23, "left_knee": 25, "left_ankle": 27,
}  # fmt: skip
# COCO-17 joint name -> BlazePose landmark index (its nose, eyes' centres, ears, limbs)
COCO17: dict[str, int] = {
    "nose": NOSE, "left_eye": LEFT_EYE, "right_eye": RIGHT_EYE, "left_ear": LEFT_EAR,
    "right_ear": RIGHT_EAR, "left_shoulder": 11, "right_shoulder": 12, "left_elbow": 13,
    "right_elbow": 14, "left_wrist": 15, "right_wrist": 16, "left_hip": 23, "right_hip": 24,
    "left_knee": 25, "right_knee": 26, "left_ankle": 27, "right_ankle": 28,
}  # fmt: skip
SKELETONS = (AIC14.name, COCO18.name)  # the skeletons a BlazePose topdown model can answer
HEAD_LANDMARKS = (LEFT_EYE, RIGHT_EYE, LEFT_EAR, RIGHT_EAR, MOUTH_LEFT, MOUTH_RIGHT)
# Head top above the ears/eyes centre, in mouth-to-eyes distances: the middle of the flat
# part (see docs/blazepose.md for the fit).
HEAD_TOP_UP = 1.8


def head_top(xy: np.ndarray) -> np.ndarray:
    """(..., 33+, 2) landmark positions -> (..., 2) estimated top of the head."""
    eyes = (xy[..., LEFT_EYE, :] + xy[..., RIGHT_EYE, :]) / 2
    ears = (xy[..., LEFT_EAR, :] + xy[..., RIGHT_EAR, :]) / 2
    mouth = (xy[..., MOUTH_LEFT, :] + xy[..., MOUTH_RIGHT, :]) / 2
    return (eyes + ears) / 2 + HEAD_TOP_UP * (eyes - mouth)


def _direct(landmarks: np.ndarray, skeleton: Skeleton, direct: dict[str, int]
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """(P, 33+, >=4) landmarks -> ((P, J, 3) with the `direct` joints and the neck (the
    shoulders' midpoint, the lower of their visibilities) filled, xy, visibility)."""
    xy, vis = landmarks[..., :2].astype(np.float64), landmarks[..., 3].astype(np.float64)
    out = np.zeros((landmarks.shape[0], skeleton.num_joints, 3), dtype=np.float64)
    for name, index in direct.items():
        j = skeleton.joint(name)
        out[:, j, :2], out[:, j, 2] = xy[:, index], vis[:, index]
    neck = skeleton.joint("neck")
    out[:, neck, :2] = (xy[:, LEFT_SHOULDER] + xy[:, RIGHT_SHOULDER]) / 2
    out[:, neck, 2] = np.minimum(vis[:, LEFT_SHOULDER], vis[:, RIGHT_SHOULDER])
    return out, xy, vis


def to_coco18(landmarks: np.ndarray) -> np.ndarray:
    """(P, 33+, >=4) [x, y, z, visibility, ...] -> (P, 18, 3) [x, y, score] in COCO-18 order."""
    return _direct(landmarks, COCO18, COCO17)[0]


def to_skeleton(landmarks: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """(P, 33+, >=4) landmarks -> (P, J, 3) in `skeleton` (a name of SKELETONS)."""
    if skeleton.name not in SKELETONS:
        raise ValueError(f"BlazePose's landmarks map to {' or '.join(SKELETONS)}, not "
                         f"{skeleton.name!r}")
    return to_coco18(landmarks) if skeleton.name == COCO18.name else to_aic14(landmarks)


def to_aic14(landmarks: np.ndarray) -> np.ndarray:
    """(P, 33+, >=4) [x, y, z, visibility, ...] -> (P, 14, 3) [x, y, score] in AIC14 order."""
    out, xy, vis = _direct(landmarks, AIC14, DIRECT)
    top = AIC14.joint("head_top")
    out[:, top, :2] = head_top(xy)
    out[:, top, 2] = vis[:, list(HEAD_LANDMARKS)].min(axis=1)
    return out
