"""A posed person -> a drawn figure: a label map of clothing/skin codes and a part-id map.

Limbs are capsules, the torso the convex hull of its 3D corners, the head an ellipse whose top
is exactly the head_top joint; every joint is the centre of the capsules it links, so the labels
sit where the drawing's joints are. Parts are drawn far to near (2.5D depth), each with a darker
rim (`SHADOW` bit) so overlapping parts of one colour stay distinguishable. `colourise` turns the
codes into RGB with per-garment patterns and shading.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from service.data.synth import pose as P
from service.data.synth.textures import Pattern, random_pattern, render_pattern

SKIN, TOP, BOTTOM, HAIR, SHOES, DARK, EXTRA = 1, 2, 3, 4, 5, 6, 7
SHADOW = 8
SHIFT = 4  # cv2 fractional bits: sub-pixel drawing keeps joints exact on small people
ONE = 1 << SHIFT

# Part ids (the part-id map), and which parts may show each joint (self-occlusion test).
TORSO, NECKP, HEADP = 1, 2, 3
R_UA, R_FA, R_HANDP, L_UA, L_FA, L_HANDP = 4, 5, 6, 7, 8, 9
R_TH, R_SH, R_FOOT, L_TH, L_SH, L_FOOT, SKIRT = 10, 11, 12, 13, 14, 15, 16
JOINT_PARTS: tuple[frozenset[int], ...] = tuple(frozenset(s) for s in (
    {TORSO, R_UA}, {R_UA, R_FA}, {R_FA, R_HANDP}, {TORSO, L_UA}, {L_UA, L_FA}, {L_FA, L_HANDP},
    {TORSO, R_TH, SKIRT}, {R_TH, R_SH, SKIRT}, {R_SH, R_FOOT},
    {TORSO, L_TH, SKIRT}, {L_TH, L_SH, SKIRT}, {L_SH, L_FOOT}, {HEADP}, {NECKP, TORSO, HEADP},
))  # fmt: skip


@dataclass(frozen=True)
class Appearance:
    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    hair_style: str  # "none" | "short" | "long"
    top: Pattern
    bottom: Pattern
    shoes: tuple[int, int, int]
    sleeves: str  # "none" | "short" | "long"
    legwear: str  # "trousers" | "shorts" | "skirt"
    # What marks the front of the top (the facing cue real clothes give): a neckline plus
    # "buttons" down the placket, a chest "print" in the accent colour, or "plain".
    front: str = "plain"
    accent: tuple[int, int, int] = (200, 30, 30)


SKIN_TONES = np.array([
    [255, 224, 196], [241, 194, 160], [224, 172, 130], [198, 134, 96], [161, 102, 66],
    [120, 72, 44], [88, 54, 36], [232, 190, 172],
])  # fmt: skip
HAIR_COLOURS = np.array([
    [20, 16, 14], [60, 40, 28], [110, 72, 40], [170, 130, 80], [220, 190, 130], [150, 150, 150],
    [120, 40, 20], [240, 240, 235],
])  # fmt: skip


def random_appearance(rng: np.random.Generator, height: float) -> Appearance:
    skin = SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.9, 1.08, 3)
    hair = HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))] * rng.uniform(0.85, 1.15, 3)
    return Appearance(
        skin=_rgb(skin), hair=_rgb(hair),
        hair_style=str(rng.choice(["none", "short", "long"], p=[0.12, 0.55, 0.33])),
        top=random_pattern(rng, height), bottom=random_pattern(rng, height, dull=True),
        shoes=_rgb(rng.uniform(0, 255, 3) * rng.uniform(0.2, 1.0)),
        sleeves=str(rng.choice(["none", "short", "long"], p=[0.15, 0.4, 0.45])),
        legwear=str(rng.choice(["trousers", "shorts", "skirt"], p=[0.65, 0.2, 0.15])),
        front=str(rng.choice(["buttons", "print", "plain"], p=[0.35, 0.4, 0.25])),
        accent=_rgb(rng.uniform(0, 255, 3)),
    )


def _rgb(c: np.ndarray) -> tuple[int, int, int]:
    c = np.clip(c, 0, 255).astype(int)
    return int(c[0]), int(c[1]), int(c[2])


class Canvas:
    """A label map and a part-id map drawn together, coordinates in crop pixels (float)."""

    def __init__(self, h: int, w: int) -> None:
        self.lab = np.zeros((h, w), np.uint8)
        self.pid = np.zeros((h, w), np.uint8)

    def capsule(
        self, a: np.ndarray, b: np.ndarray, width: float, code: int, part: int,
        end_width: float | None = None,
    ) -> None:
        """A limb from a to b, `width` wide at a tapering to `end_width` at b, with a rim."""
        wb = width if end_width is None else end_width
        self._taper(a, b, width / 2, wb / 2, code | SHADOW, part)
        if min(width, wb) >= 4:
            self._taper(a, b, width * 0.31, wb * 0.31, code, None)

    def _taper(
        self, a: np.ndarray, b: np.ndarray, ra: float, rb: float, value: int, part: int | None
    ) -> None:
        d = b - a
        n = np.array([-d[1], d[0]]) / (float(np.hypot(d[0], d[1])) + 1e-9)
        quad = np.round(np.stack([a + n * ra, b + n * rb, b - n * rb, a - n * ra]) * ONE)
        quad32 = quad.astype(np.int32)
        targets = ((self.lab, value),) if part is None else ((self.lab, value), (self.pid, part))
        for img, val in targets:
            cv2.fillConvexPoly(img, quad32, val, cv2.LINE_8, SHIFT)
            for centre, r in ((a, ra), (b, rb)):
                cv2.circle(img, _fix(centre), max(1, round(r * ONE)), val, -1, cv2.LINE_8, SHIFT)

    def polygon(self, pts: np.ndarray, code: int, part: int) -> None:
        hull = cv2.convexHull(np.round(pts * ONE).astype(np.int32))
        cv2.fillConvexPoly(self.lab, hull, code | SHADOW, cv2.LINE_8, SHIFT)
        cv2.fillConvexPoly(self.pid, hull, part, cv2.LINE_8, SHIFT)
        centre = pts.mean(axis=0)
        inner = centre + (pts - centre) * 0.84
        hull = cv2.convexHull(np.round(inner * ONE).astype(np.int32))
        cv2.fillConvexPoly(self.lab, hull, code, cv2.LINE_8, SHIFT)

    def ellipse(
        self, centre: np.ndarray, axes: tuple[float, float], angle: float, code: int,
        part: int | None, rim: bool = True,
    ) -> None:
        ax = (max(1, round(axes[0] * ONE)), max(1, round(axes[1] * ONE)))
        val = code | SHADOW if rim else code
        cv2.ellipse(self.lab, _fix(centre), ax, angle, 0, 360, val, -1, cv2.LINE_8, SHIFT)
        if part is not None:
            cv2.ellipse(self.pid, _fix(centre), ax, angle, 0, 360, part, -1, cv2.LINE_8, SHIFT)
        if rim and min(axes) >= 3:
            inner = (max(1, round(axes[0] * 0.8 * ONE)), max(1, round(axes[1] * 0.8 * ONE)))
            cv2.ellipse(self.lab, _fix(centre), inner, angle, 0, 360, code, -1, cv2.LINE_8, SHIFT)


def _fix(p: np.ndarray) -> tuple[int, int]:
    return int(round(float(p[0]) * ONE)), int(round(float(p[1]) * ONE))


def draw_person(
    canvas: Canvas, person: P.PosedPerson, look: Appearance, offset: np.ndarray
) -> None:
    """Draw all parts far-to-near; `offset` is subtracted from image coordinates."""
    pts = person.points - offset  # (P, 2) crop pixels
    h, b = person.height, person.body
    d = person.depth
    w = h * b.width
    arm_code, fore_code, thigh_code, shin_code = _garment_codes(look)
    parts: list[tuple[float, int, object]] = []

    def limb(
        i: int, j: int, width: float, code: int, part: int, bias: float = -0.01,
        taper: float = 1.0,
    ) -> None:
        parts.append((float(d[i] + d[j]) / 2 + bias * h, len(parts),
                      lambda: canvas.capsule(pts[i], pts[j], width, code, part, width * taper)))

    def add(depth: float, draw: object) -> None:
        parts.append((depth, len(parts), draw))

    add(float(d[P.NECK] + d[P.PELVIS]) / 2, lambda: _torso(canvas, pts, person, look))
    add(float(d[P.NECK] + d[P.PELVIS]) / 2 - 1e-6, lambda: _torso_front(canvas, pts, person, look))
    limb(P.NECK, P.HEAD_BASE, 0.055 * w, SKIN, NECKP, bias=0.005, taper=0.85)
    add(float(d[P.HEAD]) - 0.02 * h, lambda: _head(canvas, pts, person, look))
    for sho, elb, wri, hand, ua, fa, hp in (
        (P.R_SHO, P.R_ELB, P.R_WRI, P.R_HAND, R_UA, R_FA, R_HANDP),
        (P.L_SHO, P.L_ELB, P.L_WRI, P.L_HAND, L_UA, L_FA, L_HANDP),
    ):
        limb(sho, elb, 0.062 * w, arm_code, ua, taper=0.8)
        limb(elb, wri, 0.05 * w, fore_code, fa, bias=-0.012, taper=0.7)
        limb(wri, hand, 0.038 * w, SKIN, hp, bias=-0.013, taper=1.3)
    for hip, kne, ank, toe, heel, th, sh, ft in (
        (P.R_HIP, P.R_KNE, P.R_ANK, P.R_TOE, P.R_HEEL, R_TH, R_SH, R_FOOT),
        (P.L_HIP, P.L_KNE, P.L_ANK, P.L_TOE, P.L_HEEL, L_TH, L_SH, L_FOOT),
    ):
        limb(hip, kne, 0.1 * w, thigh_code, th, bias=0.0, taper=0.65)
        limb(kne, ank, 0.068 * w, shin_code, sh, taper=0.6)
        limb(heel, toe, 0.05 * w, SHOES, ft, bias=-0.012, taper=0.8)
    if look.legwear == "skirt":
        add(float(d[P.PELVIS]) - 0.015 * h, lambda: _skirt(canvas, pts, person))
    for _, _, draw in sorted(parts, key=lambda t: (-t[0], t[1])):
        draw()  # type: ignore[operator]


def _garment_codes(look: Appearance) -> tuple[int, int, int, int]:
    """Codes of upper arm, forearm, thigh and shin: sleeves and legwear decide skin or cloth."""
    return (
        SKIN if look.sleeves == "none" else TOP, TOP if look.sleeves == "long" else SKIN,
        SKIN if look.legwear == "skirt" else BOTTOM, BOTTOM if look.legwear == "trousers" else SKIN,
    )


def _torso(canvas: Canvas, pts: np.ndarray, person: P.PosedPerson, look: Appearance) -> None:
    depth = person.forward * person.body.chest * person.height * person.body.width  # (2,)
    corners = pts[[P.R_SHO, P.L_SHO, P.L_HIP, P.R_HIP, P.NECK, P.PELVIS]]
    hull = np.concatenate([corners + depth, corners - depth])
    canvas.polygon(hull, TOP, TORSO)
    for sho in (P.R_SHO, P.L_SHO):  # rounded shoulders
        r = 0.032 * person.height * person.body.width
        canvas.ellipse(pts[sho], (r, r), 0, TOP, TORSO, rim=False)
    if look.legwear != "skirt":  # the trousers' seat
        hips = pts[[P.R_HIP, P.L_HIP, P.PELVIS]]
        canvas.polygon(np.concatenate([hips + depth * 0.9, hips - depth * 0.9]), BOTTOM, TORSO)


def _torso_front(
    canvas: Canvas, pts: np.ndarray, person: P.PosedPerson, look: Appearance
) -> None:
    """The front of the top, seen unless the person turns away: a skin neckline and the mark."""
    if np.cos(np.radians(person.yaw)) < -0.2:
        return
    front = person.forward * person.body.chest * person.height * person.body.width * 0.85
    neck, pelvis = pts[P.NECK], pts[P.PELVIS]
    down = pelvis - neck
    half_shoulders = (pts[P.L_SHO] - pts[P.R_SHO]) / 2
    v = np.stack([neck + 0.34 * half_shoulders, neck - 0.34 * half_shoulders,
                  neck + 0.24 * down]) + front
    canvas.polygon(v, SKIN, TORSO)
    size = float(np.linalg.norm(half_shoulders)) + 0.25 * float(np.linalg.norm(front))
    if look.front == "buttons":
        r = max(0.7, 0.045 * size)
        for t in (0.33, 0.47, 0.61, 0.75):
            canvas.ellipse(neck + t * down + front, (r, r), 0, DARK, None, rim=False)
    elif look.front == "print":
        centre = neck + 0.45 * down + front
        angle = float(np.degrees(np.arctan2(down[1], down[0])))
        axes = (0.16 * float(np.linalg.norm(down)), 0.45 * size)
        canvas.ellipse(centre, axes, angle, EXTRA, None, rim=False)


def _skirt(canvas: Canvas, pts: np.ndarray, person: P.PosedPerson) -> None:
    knees = pts[[P.R_KNE, P.L_KNE]]
    hips = pts[[P.R_HIP, P.L_HIP]]
    hem = hips + (knees - hips) * 0.8
    flare = (hem[1] - hem[0]) * 0.25
    poly = np.stack([hips[0], hips[1], pts[P.PELVIS], hem[1] + flare, hem[0] - flare])
    canvas.polygon(poly, BOTTOM, SKIRT)


def _head(canvas: Canvas, pts: np.ndarray, person: P.PosedPerson, look: Appearance) -> None:
    head = P.head_frame(pts, person)  # the face keypoints (synth/face.py) use it too
    centre, up, lateral, length = head.centre, head.up, head.lateral, head.length
    angle = float(np.degrees(np.arctan2(up[1], up[0])))  # ellipse major axis along `up`
    half, half_w = length / 2, head.half_width
    facing = head.facing  # > 0: the face is towards the camera
    fwd = head.forward  # (2,) image direction the person faces, |fwd| = |sin(yaw)|
    canvas.ellipse(centre, (half, half_w), angle, SKIN, HEADP)
    if look.hair_style != "none":
        back = facing < -0.3
        hair_c = centre + up * (0.04 if back else 0.12) * length - fwd * 0.25 * half_w
        hair_len = (0.46 if back else 0.38) * length
        canvas.ellipse(hair_c, (hair_len, half_w * 1.06), angle, HAIR, HEADP)
    if facing > -0.3 and half_w >= 2.0:
        face = centre - up * 0.08 * length + fwd * 0.22 * half_w
        face_w = half_w * (0.6 + 0.25 * abs(facing))
        canvas.ellipse(face, (0.36 * length, face_w), angle, SKIN, HEADP, rim=False)
        eye_r = max(0.8, 0.13 * half_w)
        eyes = face + up * 0.07 * length + fwd * 0.3 * half_w
        spread = 0.4 * half_w * max(abs(facing), 0.2)
        for s in (-1.0, 1.0) if abs(facing) > 0.5 else (0.0,):
            eye = eyes + lateral * s * spread
            canvas.ellipse(eye, (eye_r, eye_r * 1.2), angle, DARK, None, rim=False)
            brow = eye + up * 2.2 * eye_r
            canvas.ellipse(brow, (eye_r * 0.45, eye_r * 1.7), angle, HAIR, None, rim=False)
        nose = face - up * 0.06 * length + fwd * 0.45 * half_w
        canvas.ellipse(nose, (eye_r * 1.1, eye_r * 0.55), angle, SKIN | SHADOW, None, rim=False)
        mouth = face - up * 0.2 * length + fwd * 0.1 * half_w
        canvas.ellipse(mouth, (eye_r * 0.7, eye_r * 2.6 * max(abs(facing), 0.4)), angle, DARK,
                       None, rim=False)


def colourise(
    lab: np.ndarray, look: Appearance, rng: np.random.Generator, height: float
) -> np.ndarray:
    """(h, w) label codes -> (h, w, 3) float32 RGB, shaded, patterned garments."""
    lut = np.zeros((16, 3), np.float32)
    lut[SKIN], lut[HAIR], lut[SHOES] = look.skin, look.hair, look.shoes
    lut[DARK] = (40, 25, 25)
    lut[EXTRA] = look.accent
    lut[TOP], lut[BOTTOM] = look.top.colour, look.bottom.colour
    lut[8:] = lut[:8] * 0.68  # the rim shade
    rgb = lut[lab]  # (h, w, 3)
    base = lab & 7
    shade = np.where(lab & SHADOW, 0.68, 1.0).astype(np.float32)[..., None]
    for code, pattern in ((TOP, look.top), (BOTTOM, look.bottom)):
        where = base == code
        if pattern.kind != "plain" and where.any():
            tex = render_pattern(pattern, lab.shape, rng)
            rgb = np.where(where[..., None], tex * shade, rgb)
    hh, ww = lab.shape
    light = rng.uniform(-0.25, 0.25, 2)
    ramp = 1.0 + light[0] * np.linspace(-1, 1, ww, dtype=np.float32)[None, :]
    ramp = ramp + light[1] * np.linspace(-1, 1, hh, dtype=np.float32)[:, None]
    return rgb * ramp[..., None]
