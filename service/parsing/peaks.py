"""Confidence maps -> candidate joints: local maxima over a threshold, sub-pixel refined."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service.targets import grid_to_image

# The 8 neighbours; those before the centre in raster order must be strictly lower, those after
# lower or equal, so a two-cell plateau yields one peak.
_OFFSETS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))
_LOG_FLOOR = 1e-4


@dataclass(frozen=True)
class Candidates:
    """All candidate joints of one image; a candidate's id is its row."""

    xy: np.ndarray  # (N, 2) float64, image pixels
    score: np.ndarray  # (N,) float64, the map's value at the peak cell
    joint: np.ndarray  # (N,) int64
    by_joint: tuple[np.ndarray, ...]  # J arrays of ids, each sorted by decreasing score

    def __len__(self) -> int:
        return int(self.score.shape[0])


def find_peaks(
    maps: np.ndarray, stride: int, threshold: float, max_per_joint: int = 0
) -> Candidates:
    """(J + 1, h, w) maps (last = background, ignored) -> Candidates, local maxima > threshold.

    Vectorised: only cells over the threshold are compared with their 8 neighbours.
    max_per_joint > 0 keeps only that many best peaks per joint: noisy maps (an untrained or
    confused network, an adversarial image) must not make parsing quadratic in thousands of peaks.
    """
    num_joints = maps.shape[0] - 1
    m = np.asarray(maps[:num_joints], dtype=np.float32)  # (J, h, w)
    h, w = m.shape[1:]
    flat = np.flatnonzero(m > threshold)  # much faster than a 3-d np.nonzero
    jj, rest = np.divmod(flat, h * w)
    ii, kk = np.divmod(rest, w)
    value = m.reshape(-1)[flat]
    is_max = np.ones(value.shape, dtype=bool)
    for n, (di, dj) in enumerate(_OFFSETS):
        ni, nj = ii + di, kk + dj
        inside = (ni >= 0) & (ni < h) & (nj >= 0) & (nj < w)
        nb = np.where(inside, m[jj, np.clip(ni, 0, h - 1), np.clip(nj, 0, w - 1)], -np.inf)
        is_max &= value > nb if n < 4 else value >= nb
    jj, ii, kk, value = jj[is_max], ii[is_max], kk[is_max], value[is_max]
    dx = _log_parabola_offset(m, jj, ii, kk, axis=2)
    dy = _log_parabola_offset(m, jj, ii, kk, axis=1)
    xy = np.stack([grid_to_image(kk + dx, stride), grid_to_image(ii + dy, stride)], axis=1)
    order = np.lexsort((-value, jj))  # by joint, then decreasing score
    xy, value, jj = xy[order], value[order].astype(np.float64), jj[order].astype(np.int64)
    if max_per_joint > 0:
        rank = np.arange(jj.size) - np.searchsorted(jj, jj)  # position within its joint
        keep = rank < max_per_joint
        xy, value, jj = xy[keep], value[keep], jj[keep]
    bounds = np.searchsorted(jj, np.arange(num_joints + 1))
    by_joint = tuple(np.arange(bounds[j], bounds[j + 1]) for j in range(num_joints))
    return Candidates(xy=xy, score=value, joint=jj, by_joint=by_joint)


def _log_parabola_offset(
    m: np.ndarray, jj: np.ndarray, ii: np.ndarray, kk: np.ndarray, axis: int
) -> np.ndarray:
    """Sub-pixel offset in [-0.5, 0.5] cells of a parabola through the log of 3 cells.

    Exact for a Gaussian peak (Eq. 1): its logarithm is a parabola along each axis. At the map's
    border the three cells are the peak and its two inner neighbours (the same parabola,
    extrapolated), so truncated people keep exact joints.
    """
    size = m.shape[axis]
    pos = kk if axis == 2 else ii
    if size < 3:
        return np.zeros(pos.shape)
    centre = np.clip(pos, 1, size - 2)  # the middle of the three cells fitted
    cells = [centre - 1, centre, centre + 1]
    values = [m[jj, ii, c] if axis == 2 else m[jj, c, kk] for c in cells]
    la, lc, lb = (np.log(np.maximum(v, _LOG_FLOOR).astype(np.float64)) for v in values)
    curvature = la - 2 * lc + lb
    safe = curvature < -1e-12
    vertex = np.where(safe, 0.5 * (la - lb) / np.where(safe, curvature, -1.0), 0.0)
    offset = np.where(safe, centre + vertex - pos, 0.0)
    return np.clip(offset, -0.5, 0.5)
