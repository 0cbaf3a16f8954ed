"""Clean maps, fields and boxes -> damaged ones: what a real network and detector get wrong.

Used by the robustness tests and the Table IV ablation (`bench/ablation.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from service.skeleton import Skeleton
from service.targets import image_to_grid
from service.types import Box, BoxSource


def add_noise(maps: np.ndarray, fields: np.ndarray, rng: np.random.Generator, std: float
              ) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian noise of `std` on every map and field channel."""
    return (maps + rng.normal(0, std, maps.shape).astype(np.float32),
            fields + rng.normal(0, std, fields.shape).astype(np.float32))


def blur(array: np.ndarray, sigma: float) -> np.ndarray:
    """(K, h, w) -> each channel blurred by a Gaussian of `sigma` cells, peaks rescaled to keep
    their height (blurred peaks: flatter, wider, less precise)."""
    out = np.stack([cv2.GaussianBlur(c, (0, 0), sigma) for c in array.astype(np.float32)])
    peak_in = np.abs(array).reshape(len(array), -1).max(axis=1)
    peak_out = np.abs(out).reshape(len(out), -1).max(axis=1)
    return out * (peak_in / np.maximum(peak_out, 1e-9))[:, None, None]


def erase_disc(channel: np.ndarray, xy: np.ndarray, radius: float, stride: int) -> None:
    """Zero an (h, w) channel within `radius` image pixels of the image point `xy`, in place."""
    h, w = channel.shape
    gx, gy = image_to_grid(np.asarray(xy), stride)
    r = radius / stride
    ys, xs = np.ogrid[:h, :w]
    channel[(xs - gx) ** 2 + (ys - gy) ** 2 <= r * r] = 0.0


def erase_limb(fields: np.ndarray, a: np.ndarray, b: np.ndarray, limb: int, stride: int) -> None:
    """Zero limb `limb`'s field along the segment a-b (image pixels), in place."""
    for t in np.linspace(0.0, 1.0, 9):
        p = a + t * (b - a)
        erase_disc(fields[2 * limb], p, 8.0, stride)
        erase_disc(fields[2 * limb + 1], p, 8.0, stride)


def jitter_box(box: Box, rng: np.random.Generator, fraction: float) -> Box:
    """Each side moved by up to `fraction` of the box's size (a detector's imprecision)."""
    dx, dy = box.width * fraction, box.height * fraction
    d = rng.uniform(-1, 1, 4) * (dx, dy, dx, dy)
    return Box(box.x1 + d[0], box.y1 + d[1], max(box.x2 + d[2], box.x1 + d[0] + 2),
               max(box.y2 + d[3], box.y1 + d[1] + 2), box.score, BoxSource.DAMAGED)


@dataclass(frozen=True)
class DamageConfig:
    noise: float = 0.03  # std of the noise on maps and fields
    blur: float = 0.7  # cells; 0 = none
    erased_limbs: float = 0.1  # probability that a person's limb field is erased
    missing_joints: float = 0.03  # probability that a joint's peak is erased
    box_jitter: float = 0.05  # each box side moved by up to this fraction of its size
    duplicate_boxes: float = 0.3  # probability that a person gets a second, shifted box
    duplicate_shift: float = 0.15


def damage_scene(
    keypoints: np.ndarray, boxes: list[Box], maps: np.ndarray, fields: np.ndarray,
    skeleton: Skeleton, stride: int, rng: np.random.Generator, cfg: DamageConfig = DamageConfig(),
) -> tuple[np.ndarray, np.ndarray, list[Box]]:
    """GT keypoints (N, J, 3), boxes and their clean maps/fields -> damaged maps, fields, boxes."""
    maps, fields = maps.copy(), fields.copy()
    for person in keypoints:
        for c, (a, b) in enumerate(skeleton.limbs):
            if person[a, 2] > 0 and person[b, 2] > 0 and rng.random() < cfg.erased_limbs:
                erase_limb(fields, person[a, :2], person[b, :2], c, stride)
        lost = (person[:, 2] > 0) & (rng.random(len(person)) < cfg.missing_joints)
        for j in np.flatnonzero(lost):
            erase_disc(maps[j], person[j, :2], 22.0, stride)  # 3 sigma: no ring left
    if cfg.blur > 0:
        maps[:-1], fields = blur(maps[:-1], cfg.blur), blur(fields, cfg.blur)
    maps, fields = add_noise(maps, fields, rng, cfg.noise)
    damaged = [jitter_box(box, rng, cfg.box_jitter) for box in boxes]
    damaged += [jitter_box(box, rng, cfg.duplicate_shift) for box in boxes
                if rng.random() < cfg.duplicate_boxes]
    return maps, fields, damaged
