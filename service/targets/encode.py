"""Eq. 1-4 of the paper, vectorised over people and pixels."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from service.skeleton import Skeleton


@dataclass(frozen=True)
class TargetConfig:
    stride: int = 4
    sigma: float = 7.0  # Gaussian width in image pixels, Eq. 1 (exp(-d^2 / sigma^2))
    delta: float = 4.0  # half width of the limb band in image pixels, Eq. 3
    # Per-person scaling: sigma and delta grow with the person's size between these bounds
    # (fraction of sqrt(box area)); 0 disables it.
    relative_sigma: float = 0.0


@dataclass
class Targets:
    maps: np.ndarray  # (J + 1, h, w) float32, last channel = background
    fields: np.ndarray  # (2C, h, w) float32, (x, y) per limb
    mask: np.ndarray  # (h, w) float32, W(p): 0 where annotations are missing


def map_size(height: int, width: int, stride: int) -> tuple[int, int]:
    """Output grid (h, w) for an image: ceil division, so every pixel has a cell."""
    return -(-height // stride), -(-width // stride)


def grid_to_image(coord: np.ndarray, stride: int) -> np.ndarray:
    return (np.asarray(coord, dtype=np.float64) + 0.5) * stride - 0.5


def image_to_grid(coord: np.ndarray, stride: int) -> np.ndarray:
    return (np.asarray(coord, dtype=np.float64) + 0.5) / stride - 0.5


def _grid(h: int, w: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    xs = grid_to_image(np.arange(w), stride).astype(np.float32)
    ys = grid_to_image(np.arange(h), stride).astype(np.float32)
    return xs, ys


def _present(keypoints: np.ndarray, height: int, width: int) -> np.ndarray:
    """(N, J) bool: labelled and inside the image. Others leave no trace."""
    x, y, v = keypoints[..., 0], keypoints[..., 1], keypoints[..., 2]
    return (v > 0) & (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)


def confidence_maps(
    keypoints: np.ndarray, height: int, width: int, cfg: TargetConfig
) -> np.ndarray:
    """(N, J, 3) keypoints -> (J + 1, h, w): Eq. 1 per person, Eq. 2 max over people, background."""
    n, j = keypoints.shape[:2]
    h, w = map_size(height, width, cfg.stride)
    xs, ys = _grid(h, w, cfg.stride)
    maps = np.zeros((j + 1, h, w), dtype=np.float32)
    present = _present(keypoints, height, width)
    sigmas = _person_scale(keypoints, cfg.sigma, cfg)  # (N,)
    for joint in range(j):
        idx = np.flatnonzero(present[:, joint])
        if idx.size == 0:
            continue
        px = keypoints[idx, joint, 0].astype(np.float32)[:, None]  # (K, 1)
        py = keypoints[idx, joint, 1].astype(np.float32)[:, None]
        s2 = (sigmas[idx] ** 2).astype(np.float32)[:, None, None]
        dx2 = (xs[None, :] - px) ** 2  # (K, w)
        dy2 = (ys[None, :] - py) ** 2  # (K, h)
        d2 = dy2[:, :, None] + dx2[:, None, :]  # (K, h, w)
        maps[joint] = np.exp(-d2 / s2).max(axis=0)  # Eq. 1-2
    maps[j] = 1.0 - maps[:j].max(axis=0) if j else 1.0
    return maps


def direction_fields(
    keypoints: np.ndarray, limbs: tuple[tuple[int, int], ...], height: int, width: int,
    cfg: TargetConfig,
) -> np.ndarray:
    """(N, J, 3) keypoints -> (2C, h, w): unit vectors in the limb band (Eq. 3), mean (Eq. 4)."""
    h, w = map_size(height, width, cfg.stride)
    xs, ys = _grid(h, w, cfg.stride)
    fields = np.zeros((2 * len(limbs), h, w), dtype=np.float32)
    present = _present(keypoints, height, width)
    deltas = _person_scale(keypoints, cfg.delta, cfg)
    for c, (a, b) in enumerate(limbs):
        idx = np.flatnonzero(present[:, a] & present[:, b])
        if idx.size == 0:
            continue
        pa = keypoints[idx, a, :2].astype(np.float32)  # (K, 2)
        d = keypoints[idx, b, :2].astype(np.float32) - pa
        length = np.linalg.norm(d, axis=1)
        keep = length > 1e-6
        if not keep.any():
            continue
        pa, d, length, dl = pa[keep], d[keep], length[keep], deltas[idx][keep]
        v = d / length[:, None]  # (K, 2) unit vectors
        rx = xs[None, None, :] - pa[:, 0, None, None]  # (K, 1, w)
        ry = ys[None, :, None] - pa[:, 1, None, None]  # (K, h, 1)
        along = v[:, 0, None, None] * rx + v[:, 1, None, None] * ry  # (K, h, w)
        across = np.abs(v[:, 0, None, None] * ry - v[:, 1, None, None] * rx)
        inside = (along >= 0) & (along <= length[:, None, None]) & (across <= dl[:, None, None])
        count = inside.sum(axis=0)  # (h, w)
        sx = (inside * v[:, 0, None, None]).sum(axis=0)
        sy = (inside * v[:, 1, None, None]).sum(axis=0)
        nz = count > 0
        fields[2 * c][nz] = sx[nz] / count[nz]  # Eq. 4
        fields[2 * c + 1][nz] = sy[nz] / count[nz]
    return fields


def loss_mask(ignore: np.ndarray | None, height: int, width: int, stride: int) -> np.ndarray:
    """Image-sized ignore mask (True/1 = unannotated person or crowd) -> W(p) on the grid."""
    h, w = map_size(height, width, stride)
    if ignore is None:
        return np.ones((h, w), dtype=np.float32)
    padded = np.zeros((h * stride, w * stride), dtype=np.float32)
    padded[:height, :width] = np.asarray(ignore, dtype=np.float32)
    covered = cv2.resize(padded, (w, h), interpolation=cv2.INTER_AREA)
    return (covered < 0.5).astype(np.float32)


def encode(
    keypoints: np.ndarray, skeleton: Skeleton, height: int, width: int,
    cfg: TargetConfig = TargetConfig(), ignore: np.ndarray | None = None,
) -> Targets:
    """(N, J, 3) keypoints (x, y, v in image pixels, v = 0 unlabelled) -> Targets at cfg.stride."""
    kp = np.asarray(keypoints, dtype=np.float64).reshape(-1, skeleton.num_joints, 3)
    return Targets(
        maps=confidence_maps(kp, height, width, cfg),
        fields=direction_fields(kp, skeleton.limbs, height, width, cfg),
        mask=loss_mask(ignore, height, width, cfg.stride),
    )


def _person_scale(keypoints: np.ndarray, base: float, cfg: TargetConfig) -> np.ndarray:
    """(N,) per-person width: `base`, or relative_sigma x sqrt(joint-span area), clipped to
    [base / 2, 2 base]."""
    n = keypoints.shape[0]
    if cfg.relative_sigma <= 0 or n == 0:
        return np.full(n, base, dtype=np.float64)
    labelled = (keypoints[..., 2] > 0)[..., None]  # (N, J, 1)
    high = np.where(labelled, keypoints[..., :2], -np.inf).max(axis=1)  # (N, 2)
    low = np.where(labelled, keypoints[..., :2], np.inf).min(axis=1)
    span = np.where(np.isfinite(high - low), high - low, 0.0)
    size = np.sqrt(span[:, 0] * span[:, 1])
    return np.clip(cfg.relative_sigma * size * base / cfg.sigma, base / 2, base * 2)
