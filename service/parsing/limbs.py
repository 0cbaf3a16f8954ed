"""Candidate joints + direction fields -> scored candidate connections (Eq. 5)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service.parsing.config import ParserConfig
from service.parsing.peaks import Candidates
from service.skeleton import Skeleton
from service.targets import image_to_grid


@dataclass(frozen=True)
class Connections:
    """Possible connections of all limbs, grouped by limb, each group by decreasing score."""

    limb: np.ndarray  # (P,) int64, limb index c
    start: np.ndarray  # (P,) candidate id of the limb's parent joint
    end: np.ndarray  # (P,) candidate id of the limb's child joint
    score: np.ndarray  # (P,) Eq. 5
    agreement: np.ndarray  # (P,) fraction of samples whose dot product passes a threshold
    length: np.ndarray  # (P,) segment length in image pixels

    def __len__(self) -> int:
        return int(self.score.shape[0])

    def select(self, keep: np.ndarray) -> Connections:
        return Connections(
            self.limb[keep], self.start[keep], self.end[keep], self.score[keep],
            self.agreement[keep], self.length[keep],
        )  # fmt: skip


def all_pairs(
    cands: Candidates, active: np.ndarray, skeleton: Skeleton
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (parent candidate, child candidate) pair of every limb -> (limb, start, end), (P,)."""
    limbs, starts, ends = [], [], []
    for c, (a, b) in enumerate(skeleton.limbs):
        ia = cands.by_joint[a][active[cands.by_joint[a]]]
        ib = cands.by_joint[b][active[cands.by_joint[b]]]
        if ia.size == 0 or ib.size == 0:
            continue
        sa, sb = np.meshgrid(ia, ib, indexing="ij")  # (Ka, Kb)
        starts.append(sa.ravel())
        ends.append(sb.ravel())
        limbs.append(np.full(sa.size, c, dtype=np.int64))
    if not limbs:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    return np.concatenate(limbs), np.concatenate(starts), np.concatenate(ends)


def score_connections(
    cands: Candidates, active: np.ndarray, fields: np.ndarray, skeleton: Skeleton, stride: int,
    config: ParserConfig, groups: np.ndarray | None = None,
) -> Connections:
    """All candidate pairs of all limbs, scored by Eq. 5 in one vectorised pass.

    fields: (2C, h, w). groups: optional (B, N) bool, candidates inside each box; then only pairs
    that some box holds entirely are scored (the others can never be connected).
    Returned grouped by limb, each group by decreasing rank: the Eq. 5 score plus
    `config.connection_peak_weight` times the mean of its two joints' peak values.
    """
    limb, start, end = all_pairs(cands, active, skeleton)
    if groups is not None:
        together = (groups[:, start] & groups[:, end]).any(axis=0)  # (P,)
        limb, start, end = limb[together], start[together], end[together]
    pa, pb = cands.xy[start], cands.xy[end]  # (P, 2) image pixels
    score, agreement = segment_scores(fields, limb, pa, pb, stride, config)
    length = np.linalg.norm(pb - pa, axis=1)
    rank = score + config.peak_weight * 0.5 * (cands.score[start] + cands.score[end])
    order = np.lexsort((-rank, limb))
    return Connections(
        limb[order], start[order], end[order], score[order], agreement[order], length[order]
    )


def segment_scores(
    fields: np.ndarray, limb: np.ndarray, pa: np.ndarray, pb: np.ndarray, stride: int,
    config: ParserConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """Eq. 5: s = mean over samples q of L_c(q) . d / |d|, samples uniform on the segment a-b.

    fields (2C, h, w); limb (P,); pa, pb (P, 2) image pixels -> scores (P,), agreement (P,).
    The number of samples grows with the segment's length in map cells.
    """
    if limb.size == 0:
        return np.zeros(0), np.zeros(0)
    ga, gb = image_to_grid(pa, stride), image_to_grid(pb, stride)  # (P, 2) grid (x, y)
    d = gb - ga
    length = np.linalg.norm(d, axis=1)  # (P,) cells
    unit = d / np.maximum(length, 1e-9)[:, None]
    count = np.clip(
        np.floor(length * config.samples_per_cell).astype(np.int64) + 1,
        config.min_samples, config.max_samples,
    )  # fmt: skip
    steps = np.arange(int(count.max()))[None, :]  # (1, M)
    valid = steps < count[:, None]  # (P, M)
    t = steps / np.maximum(count - 1, 1)[:, None]  # (P, M) in [0, 1]
    px = ga[:, 0, None] + t * d[:, 0, None]  # (P, M)
    py = ga[:, 1, None] + t * d[:, 1, None]
    fx, fy = _bilinear(fields, limb, px, py)
    dot = (fx * unit[:, 0, None] + fy * unit[:, 1, None]) * valid  # (P, M)
    score = dot.sum(axis=1) / count
    agree = ((dot > config.greedy_sample_threshold) & valid).sum(axis=1) / count
    degenerate = length < 1e-6
    return np.where(degenerate, 0.0, score), np.where(degenerate, 0.0, agree)


def _bilinear(
    fields: np.ndarray, limb: np.ndarray, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """fields (2C, h, w), limb (P,), x, y (P, M) grid coordinates -> the limb's (x, y) field
    components bilinearly interpolated, each (P, M)."""
    _, h, w = fields.shape
    x = np.clip(x, 0, w - 1)
    y = np.clip(y, 0, h - 1)
    x0 = np.minimum(x.astype(np.int64), max(w - 2, 0))  # floor: x >= 0
    y0 = np.minimum(y.astype(np.int64), max(h - 2, 0))
    wx, wy = (x - x0)[None], (y - y0)[None]  # (1, P, M)
    dx, dy = int(w > 1), w * int(h > 1)
    flat = fields.reshape(-1)  # (2C * h * w,)
    # Linear indices of the x component's four cells; the y component is h * w further on
    # (one flat gather per corner: several times faster than indexing (C, 2, h * w)).
    base = (2 * h * w) * limb[:, None] + y0 * w + x0  # (P, M)
    corners = np.stack([base, base + dx, base + dy, base + dy + dx])  # (4, P, M)
    v00, v01, v10, v11 = np.stack([flat[corners], flat[corners + h * w]], axis=1)  # (2, P, M)
    top = v00 + (v01 - v00) * wx
    value = top + (v10 + (v11 - v10) * wx - top) * wy
    return value[0], value[1]
