"""Ground-truth people + the predictions assigned to them -> PCK and a per-joint error table.

A joint is correct when the ground truth labels it, the prediction found it (score > 0) and the
two are at most `threshold` x the person's size apart. The size is
- "torso" (LSP's convention): the distance from the right shoulder to the left hip; where one of
  them is unlabelled, the left shoulder to the right hip, else a shoulder to the hip of its own
  side (a side of the torso, about 15% shorter than the diagonal on LSPet: stricter); people
  with no labelled shoulder-hip pair are left out (47 of the 1,000 LSPet dev people);
- "box" (multi-person sets; mmpose's bbox normalisation): the longer side of the person box.
A person with no prediction assigned misses all its labelled joints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service.skeleton import AIC14

_RS, _LS, _RH, _LH = (AIC14.joint(n) for n in ("right_shoulder", "left_shoulder", "right_hip",
                                               "left_hip"))


def _diagonal(kp: np.ndarray, a: int, b: int) -> np.ndarray:
    """(P, 14, 3) -> (P,) distance between joints a and b, nan where either is unlabelled."""
    both = (kp[:, a, 2] > 0) & (kp[:, b, 2] > 0)
    dist = np.linalg.norm(kp[:, a, :2] - kp[:, b, :2], axis=1)
    return np.where(both, dist, np.nan)


TORSO_PAIRS = ((_RS, _LH), (_LS, _RH), (_RS, _RH), (_LS, _LH))  # in order of preference


def torso_size(keypoints: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(P, 14, 3), (P, 4) -> (P,) the first labelled pair of TORSO_PAIRS' distance (nan when
    none is labelled)."""
    kp = np.asarray(keypoints, np.float64).reshape(-1, AIC14.num_joints, 3)
    size = np.full(kp.shape[0], np.nan)
    for a, b in TORSO_PAIRS:
        size = np.where(np.isnan(size), _diagonal(kp, a, b), size)
    return size


def box_size(keypoints: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(P, 14, 3), (P, 4) -> (P,) max(box width, box height)."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    return np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])


NORMALISERS = {"torso": torso_size, "box": box_size}
NORMALISER_TEXT = {
    "torso": "of the torso (right shoulder-left hip, else left shoulder-right hip, else one side)",
    "box": "of the person box's longer side",
}


@dataclass(frozen=True)
class JointErrors:
    """Distances of P ground-truth people's joints to their assigned predictions."""

    distance: np.ndarray  # (P, 14) pixels; inf where the joint was not predicted
    size: np.ndarray  # (P,) the normaliser; nan = person left out
    labelled: np.ndarray  # (P, 14) bool: ground truth labels the joint

    @property
    def counted(self) -> np.ndarray:
        """(P, 14) bool: labelled joints of people with a size."""
        return self.labelled & np.isfinite(self.size)[:, None]

    def correct(self, threshold: float) -> np.ndarray:
        """(P, 14) bool."""
        with np.errstate(invalid="ignore"):
            return self.counted & (self.distance <= threshold * self.size[:, None])

    @staticmethod
    def concat(parts: list[JointErrors]) -> JointErrors:
        if not parts:
            empty = np.zeros((0, AIC14.num_joints))
            return JointErrors(empty, np.zeros(0), empty.astype(bool))
        return JointErrors(np.concatenate([p.distance for p in parts]),
                           np.concatenate([p.size for p in parts]),
                           np.concatenate([p.labelled for p in parts]))


def joint_errors(gt: np.ndarray, predicted: np.ndarray, size: np.ndarray) -> JointErrors:
    """gt (P, 14, 3) x, y, v; predicted (P, 14, 3) x, y, score (score 0 or a person without a
    prediction: not found); size (P,) -> JointErrors."""
    gt = np.asarray(gt, np.float64).reshape(-1, AIC14.num_joints, 3)
    pred = np.asarray(predicted, np.float64).reshape(gt.shape)
    dist = np.linalg.norm(pred[..., :2] - gt[..., :2], axis=-1)
    dist = np.where(pred[..., 2] > 0, dist, np.inf)
    return JointErrors(dist, np.asarray(size, np.float64), gt[..., 2] > 0)


def pck(errors: JointErrors, threshold: float = 0.2,
        joints: tuple[int, ...] | None = None) -> float:
    """Fraction of the counted joints (of `joints`, default all) that are correct."""
    cols = list(range(AIC14.num_joints)) if joints is None else list(joints)
    counted = errors.counted[:, cols]
    if not counted.any():
        return float("nan")
    return float(errors.correct(threshold)[:, cols].sum() / counted.sum())


@dataclass(frozen=True)
class JointRow:
    joint: str
    count: int  # labelled joints counted
    pck: float
    median_px: float  # inf when half or more were not found
    median_relative: float  # median distance / size


def per_joint(errors: JointErrors, threshold: float = 0.2) -> list[JointRow]:
    """One row per AIC-14 joint (count 0 and nan where no person labels it)."""
    rows = []
    correct = errors.correct(threshold)
    for j, name in enumerate(AIC14.joints):
        keep = errors.counted[:, j]
        if not keep.any():
            rows.append(JointRow(name, 0, float("nan"), float("nan"), float("nan")))
            continue
        dist = errors.distance[keep, j]
        rows.append(JointRow(name, int(keep.sum()), float(correct[keep, j].mean()),
                             float(np.median(dist)),
                             float(np.median(dist / errors.size[keep]))))
    return rows
