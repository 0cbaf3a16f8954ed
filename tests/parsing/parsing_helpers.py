"""Small scenes for the parser's tests: a few people placed by hand, their maps and fields."""

from __future__ import annotations

import numpy as np

from service.evaluation.synthetic import CANONICAL, box_of
from service.skeleton import AIC14
from service.targets import encode
from service.types import Box

H, W, STRIDE = 320, 480, 4


def person(cx: float, cy: float, size: float = 200.0) -> np.ndarray:
    """(J, 3) a standing AIC-14 person with its neck at (cx, cy), all joints visible."""
    xy = CANONICAL["aic14"] * size + (cx, cy)
    return np.column_stack([xy, np.full(len(xy), 2.0)])


def scene(*people: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Box]]:
    """people -> keypoints (N, J, 3), maps, fields, tight GT boxes."""
    kp = np.stack(people)
    t = encode(kp, AIC14, H, W)
    return kp, t.maps, t.fields, [box_of(p) for p in kp]


def match_errors(poses: list, kp: np.ndarray) -> np.ndarray:
    """(N,) GT people -> (N, J) pixel error of the best-matching pose per person (inf: none)."""
    if not poses:
        return np.full(kp.shape[:2], np.inf)
    pred = np.stack([p.keypoints for p in poses])  # (M, J, 3)
    err = np.linalg.norm(pred[None, :, :, :2] - kp[:, None, :, :2], axis=3)  # (N, M, J)
    err = np.where(pred[None, :, :, 2] > 0, err, np.inf)
    best = np.argmax((err < 5.0).sum(axis=2), axis=1)  # the pose sharing most joints
    return err[np.arange(len(kp)), best]
