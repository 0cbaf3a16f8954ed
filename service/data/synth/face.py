"""A drawn person -> COCO's five face keypoints (nose, eyes, ears) on its head, with visibility.

The head is the ellipse `body._head` draws (`pose.head_frame`). The nose and the eyes sit where
that drawing puts them; each ear on its side of the head, a little below and behind the centre.
A point is placed in the head's own frame (up, the person's left, forward): the left axis shows
in the image as `lateral * cos(yaw)`, the forward axis as `person.forward` (|sin(yaw)|), so a
back view puts the left eye on the image's left and a side view both ears near the middle.

Visibility as COCO flags it: 0 outside the image (x = y = 0); 1 when the point faces away from
the camera (its surface normal turned away: the back of the head hides it) or when what shows
there is not this person's head (another person, an object, the person's own arm); else 2.
"""

from __future__ import annotations

import numpy as np

from service.data.synth import pose as P
from service.data.synth.body import HEADP

FACE_JOINTS = ("nose", "left_eye", "right_eye", "left_ear", "right_ear")
# Per point: offset from the head's centre along up (head lengths), left and forward (half
# widths), then its surface normal in the head's (left, forward) plane.
_PLACES = np.array([
    (-0.14, 0.0, 0.67, 0.0, 1.0),  # nose: as drawn
    (-0.01, 0.4, 0.52, 0.45, 0.89),  # left eye: as drawn
    (-0.01, -0.4, 0.52, -0.45, 0.89),
    (-0.05, 0.92, -0.15, 1.0, 0.0),  # left ear
    (-0.05, -0.92, -0.15, -1.0, 0.0),
])  # fmt: skip
_AWAY = -0.15  # normal . (towards the camera) below this: the head hides the point


def face_points(person: P.PosedPerson) -> tuple[np.ndarray, np.ndarray]:
    """(5, 2) image positions of FACE_JOINTS and (5,) bool: on the camera's side of the head."""
    head = P.head_frame(person.points, person)
    up, left, ahead = _PLACES[:, 0:1], _PLACES[:, 1:2], _PLACES[:, 2:3]  # (5, 1) each
    xy = (head.centre + up * head.length * head.up
          + left * head.half_width * head.facing * head.lateral
          + ahead * head.half_width * head.forward)  # fmt: skip
    yaw = np.radians(person.yaw)
    towards = -_PLACES[:, 3] * np.sin(yaw) + _PLACES[:, 4] * np.cos(yaw)  # (5,)
    return xy, towards >= _AWAY


def face_keypoints(
    owner: np.ndarray, part: np.ndarray, person: P.PosedPerson, index: int
) -> np.ndarray:
    """(H, W) owner and part-id maps of the scene, the person and its owner index -> (5, 3)
    x, y, v of FACE_JOINTS."""
    h, w = owner.shape
    xy, front = face_points(person)
    out = np.zeros((len(FACE_JOINTS), 3))
    for k, (x, y) in enumerate(xy):
        if not (0 <= x <= w - 1 and 0 <= y <= h - 1):
            continue  # truncated: unlabelled, x = y = 0
        cx, cy = int(round(x)), int(round(y))
        rows, cols = slice(max(cy - 1, 0), cy + 2), slice(max(cx - 1, 0), cx + 2)
        shown = ((owner[rows, cols] == index) & (part[rows, cols] == HEADP)).any()
        out[k] = (x, y, 2.0 if shown and front[k] else 1.0)
    return out
