"""Raw model outputs (tuples, index-coded rows) -> named results.

A detector answers (B, K, 5) rows [x1, y1, x2, y2, score], or with `detect()` (B, K, 13): those
five, then BlazePose's alignment keypoints (hip centre, body-circle point, shoulder centre,
upper-body-circle point, each x, y). A bottom-up pose model answers (maps, fields) or, with a box
head, (maps, fields, box rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

ROW_COLUMNS = 5  # x1, y1, x2, y2, score
ALIGNMENT_POINTS = 4  # hip centre, body-circle point, shoulder centre, upper-body-circle point


@dataclass(frozen=True)
class DetectorRows:
    """One image's detector rows, by name."""

    corners: np.ndarray  # (K, 4) x1, y1, x2, y2 in input pixels
    scores: np.ndarray  # (K,)
    keypoints: np.ndarray | None  # (K, 4, 2) alignment keypoints; None: the 5-column rows

    @classmethod
    def of(cls, rows: np.ndarray) -> DetectorRows:
        """(K, 5) or (K, 13) rows -> named columns (float64)."""
        rows = np.asarray(rows, dtype=np.float64)
        points = None
        if rows.shape[1] >= ROW_COLUMNS + 2 * ALIGNMENT_POINTS:
            points = rows[:, ROW_COLUMNS:ROW_COLUMNS + 2 * ALIGNMENT_POINTS].reshape(
                -1, ALIGNMENT_POINTS, 2)  # (K, 4, 2)
        return cls(rows[:, :4], rows[:, 4], points)

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def select(self, keep: np.ndarray) -> DetectorRows:
        """(K,) bool -> the kept rows."""
        points = self.keypoints[keep] if self.keypoints is not None else None
        return DetectorRows(self.corners[keep], self.scores[keep], points)

    def valid(self, threshold: float) -> np.ndarray:
        """(K,) bool: finite rows scoring >= threshold with x2 > x1 and y2 > y1."""
        finite = np.isfinite(self.corners).all(axis=1) & np.isfinite(self.scores)
        if self.keypoints is not None:
            finite &= np.isfinite(self.keypoints).all(axis=(1, 2))
        with np.errstate(invalid="ignore"):
            return (finite & (self.scores >= threshold)
                    & (self.corners[:, 2] > self.corners[:, 0])
                    & (self.corners[:, 3] > self.corners[:, 1]))  # fmt: skip

    def angles(self) -> np.ndarray:
        """(K,) crop rotations: MediaPipe's alignment that turns the hip centre -> body-circle
        point vector upright; zeros without keypoints."""
        if self.keypoints is None:
            return np.zeros(len(self))
        hip, body = self.keypoints[:, 0], self.keypoints[:, 1]  # (K, 2) each
        dx, dy = body[:, 0] - hip[:, 0], body[:, 1] - hip[:, 1]
        return np.asarray(np.pi / 2 - np.arctan2(-dy, dx))


@dataclass(frozen=True)
class PoseNetOutput:
    """A bottom-up pose model's batch output."""

    maps: torch.Tensor  # (B, J+1, h, w)
    fields: torch.Tensor  # (B, 2C, h, w)
    box_rows: torch.Tensor | None  # (B, K, 5 [+ 2 J regressed joints]) from a box head

    @classmethod
    def of(cls, out: Any) -> PoseNetOutput:
        """The module's tuple (maps, fields[, box rows]) -> named parts."""
        return cls(out[0], out[1], out[2] if len(out) > 2 else None)
