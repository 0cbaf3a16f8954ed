"""Noisy keypoints over time -> smoothed keypoints: the One-Euro filter (Casiez, Roussel and
Vogel, CHI 2012), a low-pass filter whose cut-off rises with speed, so a still joint stops
jittering and a moving one does not lag."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneEuroConfig:
    min_cutoff: float = 1.0  # Hz: the cut-off of a still joint (lower: smoother, more lag)
    beta: float = 0.05  # cut-off rise per pixel/s of speed (higher: less lag when moving)
    d_cutoff: float = 1.0  # Hz: the cut-off of the speed estimate


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray:
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff))
    return np.asarray(1.0 / (1.0 + tau / dt))


class OneEuroFilter:
    """One filter per element of an array (a pose's (J, 2) coordinates), fed in time order.
    Elements outside `found` (a joint not found in this frame) pass through and keep no state:
    a joint that reappears starts afresh rather than gliding from where it was lost."""

    def __init__(self, config: OneEuroConfig | None = None) -> None:
        self.config = config or OneEuroConfig()
        self._value: np.ndarray | None = None
        self._speed: np.ndarray | None = None
        self._seen: np.ndarray | None = None  # bool per element: filtered in the last frame
        self._time = 0.0

    def __call__(self, value: np.ndarray, time_s: float,
                 found: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
        """(...,) values at `time_s` (+ (...,) bool `found`, default all) -> filtered values."""
        value = np.asarray(value, dtype=np.float64)
        found = np.ones(value.shape, bool) if found is None else np.broadcast_to(found, value.shape)
        if self._value is None or self._speed is None or self._seen is None or time_s <= self._time:
            self._value, self._speed = value.copy(), np.zeros_like(value)
            self._seen, self._time = found.copy(), time_s
            return value.copy()
        dt, c = time_s - self._time, self.config
        fresh = found & ~self._seen  # restarts at its new value
        speed = np.where(fresh, 0.0, (value - self._value) / dt)
        d_speed = self._speed + _alpha(c.d_cutoff, dt) * (speed - self._speed)  # Eq. 4
        cutoff = c.min_cutoff + c.beta * np.abs(d_speed)  # Eq. 5
        smoothed = self._value + _alpha(cutoff, dt) * (value - self._value)
        self._value = np.where(fresh, value, np.where(found, smoothed, self._value))
        self._speed = np.where(found & ~fresh, d_speed, 0.0)
        self._seen, self._time = found.copy(), time_s
        return np.where(found, self._value, value)
