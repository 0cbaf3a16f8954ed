"""Pattern specs -> textured RGB arrays (garments, distractors, backgrounds), all vectorised."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PATTERN_KINDS = ("plain", "stripes", "checks", "dots", "noise", "blend")


@dataclass(frozen=True)
class Pattern:
    kind: str
    colour: tuple[int, int, int]
    colour2: tuple[int, int, int]
    period: float  # pixels
    angle: float  # radians


def random_colour(rng: np.random.Generator, dull: bool = False) -> tuple[int, int, int]:
    """A colour in HSV space: saturated or dull, dark to bright."""
    sat = rng.uniform(0, 120) if dull else rng.uniform(0, 255)
    val = rng.uniform(25, 230) if dull else rng.uniform(40, 255)
    hsv = np.array([[[rng.uniform(0, 180), sat, val]]], np.uint8)
    c = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0]
    return int(c[0]), int(c[1]), int(c[2])


def random_pattern(rng: np.random.Generator, size: float, dull: bool = False) -> Pattern:
    kind = str(rng.choice(PATTERN_KINDS, p=[0.4, 0.2, 0.12, 0.08, 0.1, 0.1]))
    return Pattern(
        kind=kind, colour=random_colour(rng, dull), colour2=random_colour(rng),
        period=float(max(2.0, size * rng.uniform(0.02, 0.1))),
        angle=float(rng.choice([0.0, np.pi / 2, rng.uniform(0, np.pi)])),
    )


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """(h, w) float32 in ~[-1, 1]: random values on a coarse grid, resized up (value noise)."""
    h, w = shape
    ch, cw = max(2, h * cells // max(h, w)), max(2, w * cells // max(h, w))
    small = rng.uniform(-1, 1, (ch, cw)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def render_pattern(p: Pattern, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """(h, w, 3) float32 RGB texture of the pattern."""
    h, w = shape
    c1 = np.asarray(p.colour, np.float32)
    c2 = np.asarray(p.colour2, np.float32)
    if p.kind == "plain":
        return np.broadcast_to(c1, (h, w, 3)).astype(np.float32)
    if p.kind in ("noise", "blend"):
        t = smooth_noise(rng, shape, 3 if p.kind == "blend" else max(3, int(max(h, w) / p.period)))
        t = (t * 0.5 + 0.5)[..., None]
        return c1 * (1 - t) + c2 * t
    ys = np.arange(h, dtype=np.float32)[:, None] / p.period  # (h, 1), in periods
    xs = np.arange(w, dtype=np.float32)[None, :] / p.period  # (1, w)
    c, s = np.float32(np.cos(p.angle)), np.float32(np.sin(p.angle))
    u = xs * c + ys * s  # (h, w)
    if p.kind == "stripes":
        m = (u % 1.0) < 0.5
    elif p.kind == "checks":
        v = ys * c - xs * s
        m = ((np.floor(u) + np.floor(v)) % 2) == 0
    else:  # dots
        v = ys * c - xs * s
        du, dv = (u % 1.0) - 0.5, (v % 1.0) - 0.5
        m = du * du + dv * dv < 0.09
    return np.where(m[..., None], c2, c1).astype(np.float32)
