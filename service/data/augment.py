"""`Sample` -> a randomly rotated, scaled, cropped, flipped, colour-jittered `Sample` of a fixed
square size. One 2x3 affine matrix moves image, keypoints, boxes and ignore mask together
(cv2.warpAffine, pixel centres at integer coordinates); a flip also swaps left and right joints
(`Skeleton.flip_permutation`). Paper: rotation in [-30, 30] degrees and horizontal flips."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from service.data.sample import Sample
from service.skeleton import Skeleton


@dataclass(frozen=True)
class AugmentConfig:
    size: int = 384  # output side S
    max_rotation: float = 30.0  # degrees
    p_flip: float = 0.5
    scale: tuple[float, float] = (0.7, 1.3)  # x the whole image fitting into S
    p_person: float = 0.7  # scale and centre on a random person ...
    person_height: tuple[float, float] = (0.15, 0.9)  # ... to this fraction of S (log-uniform)
    max_scale: float = 4.0
    centre_jitter: float = 0.15  # x S
    pad_value: tuple[int, int, int] = (124, 116, 104)  # ImageNet mean: 0 after normalisation
    brightness: float = 0.25
    contrast: float = 0.25
    saturation: float = 0.3
    hue: int = 8  # degrees / 2 (OpenCV hue units)


@dataclass(frozen=True)
class Warp:
    matrix: np.ndarray  # (2, 3) source pixel -> output pixel
    flipped: bool


def flip_matrix(width: int) -> np.ndarray:
    """(3, 3) horizontal flip about the image centre: x -> (W - 1) - x."""
    return np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def affine(centre: np.ndarray, scale: float, degrees: float, size: int) -> np.ndarray:
    """(3, 3): `centre` (source px) -> output centre, scaled by `scale`, rotated by `degrees`."""
    t = np.radians(degrees)
    rs = scale * np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    out = np.eye(3)
    out[:2, :2] = rs
    out[:2, 2] = (size - 1) / 2 - rs @ np.asarray(centre, np.float64)
    return out


def random_warp(rng: np.random.Generator, sample: Sample, cfg: AugmentConfig) -> Warp:
    h, w = sample.image.shape[:2]
    s = cfg.size
    fit = s / max(h, w)
    scale = fit * rng.uniform(*cfg.scale)
    centre = np.array([(w - 1) / 2, (h - 1) / 2])
    people: np.ndarray = np.flatnonzero((sample.keypoints[..., 2] > 0).any(axis=1))
    if len(people) and rng.random() < cfg.p_person:
        x1, y1, x2, y2 = sample.boxes[int(rng.choice(people))]
        lo, hi = np.log(cfg.person_height)
        scale = float(np.exp(rng.uniform(lo, hi))) * s / max(y2 - y1, x2 - x1, 1.0)
        scale = float(np.clip(scale, fit * cfg.scale[0], fit * cfg.max_scale))
        centre = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
    centre = centre + rng.uniform(-1, 1, 2) * cfg.centre_jitter * s / scale
    flipped = bool(rng.random() < cfg.p_flip)
    degrees = rng.uniform(-cfg.max_rotation, cfg.max_rotation)
    if flipped:  # flip first, about the source image's centre; the crop centre follows it
        centre = np.array([w - 1 - centre[0], centre[1]])
        m = affine(centre, scale, degrees, s) @ flip_matrix(w)
    else:
        m = affine(centre, scale, degrees, s)
    return Warp(m[:2], flipped)


def warp_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(..., 2) -> (..., 2) through a (2, 3) affine matrix."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def warp_boxes(boxes: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(N, 4) xyxy -> (N, 4): the box of each box's inscribed ellipse after the warp (tighter
    than the corners' box under rotation)."""
    centre = warp_points((boxes[:, :2] + boxes[:, 2:]) / 2, matrix)  # (N, 2)
    half = (boxes[:, 2:] - boxes[:, :2]) / 2  # (N, 2)
    a = np.abs(matrix[:, :2])  # (2, 2); for an ellipse the extent is the root of squared terms
    ext = np.sqrt((half[:, None, :] ** 2 * a[None] ** 2).sum(axis=2))  # (N, 2)
    return np.concatenate([centre - ext, centre + ext], axis=1)


def _with_keypoints(boxes: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """(N, 4) boxes grown to hold each person's labelled (N, J, 3) keypoints."""
    labelled = keypoints[..., 2:3] > 0
    low = np.where(labelled, keypoints[..., :2], np.inf).min(axis=1)  # (N, 2)
    high = np.where(labelled, keypoints[..., :2], -np.inf).max(axis=1)
    return np.concatenate([np.minimum(boxes[:, :2], low), np.maximum(boxes[:, 2:], high)], axis=1)


def apply_warp(sample: Sample, warp: Warp, skeleton: Skeleton, cfg: AugmentConfig) -> Sample:
    """Warp everything; keypoints keep their flags (those now outside the crop are left for the
    target encoder to skip); people whose box leaves the crop are dropped."""
    s = cfg.size
    image = cv2.warpAffine(sample.image, warp.matrix, (s, s), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=cfg.pad_value)
    kp = sample.keypoints.copy()
    kp[..., :2] = warp_points(kp[..., :2], warp.matrix)
    kp[kp[..., 2] == 0, :2] = 0.0
    boxes = _with_keypoints(warp_boxes(sample.boxes.reshape(-1, 4), warp.matrix), kp)
    if warp.flipped:
        kp = kp[:, list(skeleton.flip_permutation)]
    boxes = np.clip(boxes, 0.0, float(s))
    keep = ((boxes[:, 2] - boxes[:, 0]) > 1) & ((boxes[:, 3] - boxes[:, 1]) > 1)
    ignore = None
    if sample.ignore is not None:
        ignore = cv2.warpAffine(sample.ignore.astype(np.uint8), warp.matrix, (s, s),
                                flags=cv2.INTER_NEAREST, borderValue=0).astype(bool)
    return Sample(image, kp[keep], boxes[keep], ignore)


def colour_jitter(image: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> jittered brightness, contrast, saturation and hue."""
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    hue = hsv[..., 0].astype(np.int16) + int(rng.integers(-cfg.hue, cfg.hue + 1))
    hsv[..., 0] = np.mod(hue, 180).astype(np.uint8)
    sat = hsv[..., 1].astype(np.float32) * rng.uniform(1 - cfg.saturation, 1 + cfg.saturation)
    hsv[..., 1] = np.clip(sat, 0, 255).astype(np.uint8)
    out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).astype(np.float32)
    mean = out.mean()
    out = (out - mean) * rng.uniform(1 - cfg.contrast, 1 + cfg.contrast) + mean
    out = out * rng.uniform(1 - cfg.brightness, 1 + cfg.brightness)
    return np.clip(out, 0, 255).astype(np.uint8)


def augment(
    sample: Sample, skeleton: Skeleton, rng: np.random.Generator, cfg: AugmentConfig
) -> Sample:
    out = apply_warp(sample, random_warp(rng, sample, cfg), skeleton, cfg)
    out.image = colour_jitter(out.image, rng, cfg)
    return out


def fit_warp(sample: Sample, cfg: AugmentConfig) -> Warp:
    """The deterministic evaluation warp: the whole image scaled to fit, centred, no flip."""
    h, w = sample.image.shape[:2]
    m = affine(np.array([(w - 1) / 2, (h - 1) / 2]), cfg.size / max(h, w), 0.0, cfg.size)
    return Warp(m[:2], False)
