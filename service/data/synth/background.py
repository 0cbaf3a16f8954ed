"""Random background -> (H, W, 3) float32 RGB: gradients, value noise, rooms, tiled patterns,
crops of the sample photographs that installed packages ship, then clutter shapes on top."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import cv2
import numpy as np

from service.data.synth.textures import random_colour, random_pattern, render_pattern, smooth_noise

Image = np.ndarray  # (H, W, 3) float32 RGB


@lru_cache(maxsize=1)
def sample_photos() -> tuple[np.ndarray, ...]:
    """scikit-learn's sample images (china.jpg, flower.jpg) as uint8 RGB; () if unavailable."""
    try:
        from sklearn.datasets import load_sample_images
    except ImportError:  # scikit-learn is an optional (train) dependency
        return ()
    return tuple(np.ascontiguousarray(img) for img in load_sample_images().images)


def _gradient(rng: np.random.Generator, h: int, w: int) -> Image:
    c1, c2 = (np.asarray(random_colour(rng), np.float32) for _ in range(2))
    t = rng.uniform(0, 2 * np.pi)
    ys, xs = np.linspace(-1, 1, h, dtype=np.float32), np.linspace(-1, 1, w, dtype=np.float32)
    ramp = (xs[None, :] * np.cos(t) + ys[:, None] * np.sin(t)) * 0.5 + 0.5
    return c1 * (1 - ramp[..., None]) + c2 * ramp[..., None]


def _noise(rng: np.random.Generator, h: int, w: int) -> Image:
    out = np.zeros((h, w, 3), np.float32)
    for cells, amp in ((3, 1.0), (12, 0.5), (48, 0.25)):
        out += amp * np.stack([smooth_noise(rng, (h, w), cells) for _ in range(3)], axis=-1)
    base = np.asarray(random_colour(rng), np.float32)
    return base + out * rng.uniform(20, 70)


def _room(rng: np.random.Generator, h: int, w: int) -> Image:
    """A wall above a floor with a horizon at a random height; either may be patterned."""
    horizon = int(h * rng.uniform(0.2, 0.8))
    wall = render_pattern(random_pattern(rng, h, dull=True), (horizon, w), rng)
    floor = render_pattern(random_pattern(rng, h * 2, dull=True), (h - horizon, w), rng)
    img = np.concatenate([wall, floor], axis=0)
    return img * (0.8 + 0.4 * np.linspace(0, 1, h, dtype=np.float32))[:, None, None]


def _pattern(rng: np.random.Generator, h: int, w: int) -> Image:
    return render_pattern(random_pattern(rng, max(h, w)), (h, w), rng)


def _photo(rng: np.random.Generator, h: int, w: int) -> Image:
    photos = sample_photos()
    if not photos:
        return _noise(rng, h, w)
    src = photos[int(rng.integers(len(photos)))]
    sh, sw = src.shape[:2]
    scale = rng.uniform(0.25, 1.0) * min(sh / h, sw / w)
    ch, cw = max(8, int(h * scale)), max(8, int(w * scale))
    y, x = int(rng.integers(0, sh - ch + 1)), int(rng.integers(0, sw - cw + 1))
    crop = src[y : y + ch, x : x + cw]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    if rng.random() < 0.3:
        crop = crop[::-1] if rng.random() < 0.3 else crop.transpose(1, 0, 2)
    img = cv2.resize(np.ascontiguousarray(crop), (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:  # hue rotation
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
        hsv[..., 0] = (hsv[..., 0].astype(np.int32) + int(rng.integers(180))) % 180
        img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    return img.astype(np.float32) * rng.uniform(0.7, 1.25, 3).astype(np.float32)


BACKGROUNDS: dict[str, Callable[[np.random.Generator, int, int], Image]] = {
    "gradient": _gradient, "noise": _noise, "room": _room, "pattern": _pattern,
    "photo": _photo,
}  # fmt: skip
BACKGROUND_WEIGHTS = {"gradient": 0.12, "noise": 0.18, "room": 0.2, "pattern": 0.1, "photo": 0.4}


def draw_clutter(img: Image, rng: np.random.Generator, count: int) -> Image:
    """Random filled shapes (rectangles, ellipses, polygons, thick lines) in random colours."""
    h, w = img.shape[:2]
    for _ in range(count):
        colour = tuple(float(c) for c in random_colour(rng))
        size = max(2.0, min(h, w) * float(rng.uniform(0.03, 0.4)))
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        kind = int(rng.integers(4))
        if kind == 0:
            p1 = (int(cx - size), int(cy - size * rng.uniform(0.2, 2)))
            p2 = (int(cx + size * rng.uniform(0.2, 2)), int(cy + size))
            cv2.rectangle(img, p1, p2, colour, -1)
        elif kind == 1:
            axes = (int(size), int(size * rng.uniform(0.3, 1)))
            cv2.ellipse(img, (int(cx), int(cy)), axes, rng.uniform(0, 180), 0, 360, colour, -1)
        elif kind == 2:
            pts = rng.normal(0, size, (int(rng.integers(3, 7)), 2)) + (cx, cy)
            cv2.fillPoly(img, [pts.astype(np.int32)], colour)
        else:
            p2 = (int(cx + rng.normal(0, size * 2)), int(cy + rng.normal(0, size * 2)))
            cv2.line(img, (int(cx), int(cy)), p2, colour, max(1, int(size * 0.15)))
    return img


def random_background(rng: np.random.Generator, height: int, width: int) -> Image:
    """(H, W, 3) float32 RGB in about 0..255."""
    names = list(BACKGROUNDS)
    weights = np.array([BACKGROUND_WEIGHTS[n] for n in names])
    name = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    img = np.ascontiguousarray(BACKGROUNDS[name](rng, height, width), dtype=np.float32)
    if rng.random() < 0.6:
        img = draw_clutter(img, rng, int(rng.integers(1, 12)))
    return img
