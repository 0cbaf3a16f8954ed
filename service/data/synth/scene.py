"""Seeded random numbers -> a multi-person scene: RGB image, AIC-14 keypoints, person boxes.

People are drawn far to near (smaller people are farther), so nearer bodies occlude farther
ones; distractor objects are drawn last, in front of everyone. Two image-sized maps record who
owns each pixel and which body part, giving each joint its COCO visibility flag: 2 visible,
1 hidden by another person, a distractor or the person's own body, 0 outside the image (with
x = y = 0, i.e. truncated).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from service.data.synth import body as B
from service.data.synth import pose as P
from service.data.synth.background import random_background
from service.data.synth.face import FACE_JOINTS, face_keypoints
from service.data.synth.photometric import degrade, lighting
from service.data.synth.textures import random_pattern, render_pattern

DISTRACTOR = -2  # owner id of distractor pixels
NOBODY = -1


@dataclass(frozen=True)
class SynthConfig:
    min_people: int = 0
    max_people: int = 12
    min_height: float = 0.05  # person height as a fraction of the image height
    max_height: float = 1.0
    p_cluster: float = 0.35  # place a person next to an earlier one (overlaps)
    p_distractor: float = 0.45  # objects in front of people
    photometric: bool = True
    kinds: tuple[str, ...] = P.POSE_KINDS
    view_weights: tuple[float, ...] = P.VIEW_WEIGHTS  # front, back, side


@dataclass
class Scene:
    image: np.ndarray  # (H, W, 3) uint8 RGB
    keypoints: np.ndarray  # (N, 14, 3) float64, AIC-14 order, x, y, COCO visibility 0/1/2
    boxes: np.ndarray  # (N, 4) float64 x1, y1, x2, y2: drawn body clipped to the image
    views: list[str] = field(default_factory=list)  # "front" | "back" | "side" per person
    kinds: list[str] = field(default_factory=list)  # pose kind per person
    # (N, 5, 3) COCO's face keypoints (synth/face.py: nose, eyes, ears), x, y, v as above
    face: np.ndarray = field(default_factory=lambda: np.zeros((0, len(FACE_JOINTS), 3)))


@dataclass
class _Canvas:
    image: np.ndarray  # (H, W, 3) float32
    owner: np.ndarray  # (H, W) int16, person index, NOBODY or DISTRACTOR
    part: np.ndarray  # (H, W) uint8, body part id of the owner


def _count(rng: np.random.Generator, cfg: SynthConfig) -> int:
    if rng.random() < 0.06:  # a few empty (or minimal) scenes
        return cfg.min_people
    return int(rng.integers(max(cfg.min_people, 1), max(cfg.max_people, 1) + 1))


def _people(rng: np.random.Generator, w: int, h: int, cfg: SynthConfig) -> list[P.PosedPerson]:
    """Posed people at their image positions, sorted far (small) to near (large)."""
    people: list[P.PosedPerson] = []
    lo, hi = np.log(cfg.min_height), np.log(cfg.max_height)
    for _ in range(_count(rng, cfg)):
        size = float(np.exp(rng.uniform(lo, hi))) * h
        kind = cfg.kinds[int(rng.integers(len(cfg.kinds)))]
        person = P.pose_person(rng, size, kind, view_weights=cfg.view_weights)
        if people and rng.random() < cfg.p_cluster:
            ref = people[int(rng.integers(len(people)))]
            anchor = ref.points[P.PELVIS] + rng.normal(0, 0.25, 2) * ref.height
            foot = anchor + np.array([0.0, 0.45 * size])
        else:
            x, y = rng.uniform(-0.05, 1.05) * w, rng.uniform(0.4 * size, h + 0.25 * size)
            foot = np.array([x, y])
        person.points += foot
        people.append(person)
    depth_key = [p.height * rng.uniform(0.8, 1.25) for p in people]
    return [people[i] for i in np.argsort(depth_key)]


def _draw_person(
    canvas: _Canvas, person: P.PosedPerson, index: int, rng: np.random.Generator
) -> np.ndarray | None:
    """Draw one person; return its drawn box (4,) xyxy clipped to the image, None if unseen."""
    h, w = canvas.owner.shape
    margin = 0.12 * person.height * person.body.width + 2
    x0, y0 = np.floor(person.points.min(axis=0) - margin).astype(int)
    x1, y1 = np.ceil(person.points.max(axis=0) + margin).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return None
    drawn = B.Canvas(y1 - y0, x1 - x0)
    look = B.random_appearance(rng, person.height)
    B.draw_person(drawn, person, look, np.array([x0, y0], np.float64))
    mask = drawn.lab > 0
    if not mask.any():
        return None
    rgb = B.colourise(drawn.lab, look, rng, person.height)
    region = (slice(y0, y1), slice(x0, x1))
    if person.kind != "lying" and rng.random() < 0.6:
        _contact_shadow(canvas.image[region], person, np.array([x0, y0]), rng)
    # Soft (anti-aliased) silhouette edges, as a camera would record them.
    alpha = cv2.GaussianBlur(mask.astype(np.float32), (3, 3), 0.6)[..., None]
    canvas.image[region] = alpha * rgb + (1 - alpha) * canvas.image[region]
    canvas.owner[region][mask] = index
    canvas.part[region][mask] = drawn.pid[mask]
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return np.array([x0 + cols[0], y0 + rows[0], x0 + cols[-1] + 1, y0 + rows[-1] + 1], float)


def _contact_shadow(
    crop: np.ndarray, person: P.PosedPerson, offset: np.ndarray, rng: np.random.Generator
) -> None:
    """Darken an ellipse on the ground under the feet (in place)."""
    feet = person.points[[P.L_TOE, P.R_TOE, P.L_HEEL, P.R_HEEL]] - offset
    centre = (feet[:, 0].mean(), feet[:, 1].max())
    axes = (max(1, int(0.2 * person.height)), max(1, int(0.035 * person.height)))
    shade = np.zeros(crop.shape[:2], np.float32)
    cv2.ellipse(shade, (int(centre[0]), int(centre[1])), axes, 0, 0, 360, 1.0, -1)
    shade = np.asarray(cv2.GaussianBlur(shade, (0, 0), max(1.0, axes[1] * 0.6)), np.float32)
    crop *= 1 - rng.uniform(0.2, 0.5) * shade[..., None]


def _distractors(canvas: _Canvas, rng: np.random.Generator) -> None:
    """Textured objects in front of everybody (posts, boxes, balls, signs)."""
    h, w = canvas.owner.shape
    for _ in range(int(rng.integers(1, 4))):
        mask = np.zeros((h, w), np.uint8)
        size = min(h, w) * rng.uniform(0.03, 0.2)
        cx, cy = rng.uniform(0, w), rng.uniform(0.2 * h, 1.1 * h)
        kind = int(rng.integers(3))
        if kind == 0:  # post / box / sign
            half = (size * rng.uniform(0.1, 1.0), size * rng.uniform(0.3, 2.0))
            cv2.rectangle(mask, (int(cx - half[0]), int(cy - half[1])),
                          (int(cx + half[0]), int(cy + half[1])), 1, -1)
        elif kind == 1:
            cv2.ellipse(mask, (int(cx), int(cy)), (int(size), int(size * rng.uniform(0.4, 1))),
                        rng.uniform(0, 180), 0, 360, 1, -1)
        else:
            pts = rng.normal(0, size, (int(rng.integers(3, 7)), 2)) + (cx, cy)
            cv2.fillPoly(mask, [pts.astype(np.int32)], 1)
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        if rows.size == 0:
            continue
        region = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        where = mask[region] > 0
        tex = render_pattern(random_pattern(rng, size), where.shape, rng)
        canvas.image[region][where] = tex[where]
        canvas.owner[region][where] = DISTRACTOR


def _visibility(canvas: _Canvas, joints: np.ndarray, index: int) -> np.ndarray:
    """(14, 2) joints -> (14, 3) x, y, v: 2 if a 3x3 neighbourhood shows one of the joint's
    own parts, 1 if covered, 0 (and x = y = 0) outside the image."""
    h, w = canvas.owner.shape
    out = np.zeros((len(joints), 3))
    for j, (x, y) in enumerate(joints):
        if not (0 <= x <= w - 1 and 0 <= y <= h - 1):
            continue  # truncated: unlabelled, x = y = 0
        cx, cy = int(round(x)), int(round(y))
        owner = canvas.owner[max(cy - 1, 0) : cy + 2, max(cx - 1, 0) : cx + 2]
        part = canvas.part[max(cy - 1, 0) : cy + 2, max(cx - 1, 0) : cx + 2]
        own = (owner == index) & np.isin(part, list(B.JOINT_PARTS[j]))
        out[j] = (x, y, 2.0 if own.any() else 1.0)
    return out


def generate_scene(
    rng: np.random.Generator, width: int, height: int, config: SynthConfig = SynthConfig()
) -> Scene:
    """One scene. People whose drawing falls wholly outside the image are dropped; tiny or fully
    hidden people are kept (their joints are v=1, or v=0 when outside), see `writer`."""
    canvas = _Canvas(
        image=random_background(rng, height, width),
        owner=np.full((height, width), NOBODY, np.int16),
        part=np.zeros((height, width), np.uint8),
    )
    kept: list[tuple[P.PosedPerson, np.ndarray]] = []
    for person in _people(rng, width, height, config):
        box = _draw_person(canvas, person, len(kept), rng)
        if box is not None:
            kept.append((person, box))
    if rng.random() < config.p_distractor:
        _distractors(canvas, rng)
    keypoints = np.zeros((len(kept), P.J, 3))
    face = np.zeros((len(kept), len(FACE_JOINTS), 3))
    for i, (person, _) in enumerate(kept):
        keypoints[i] = _visibility(canvas, person.points[: P.J], i)
        face[i] = face_keypoints(canvas.owner, canvas.part, person, i)
    image = canvas.image
    if config.photometric:
        image = lighting(image, rng)
        out = degrade(image, rng)
    else:
        out = np.clip(image, 0, 255).astype(np.uint8)
    return Scene(
        image=out, keypoints=keypoints,
        boxes=np.array([b for _, b in kept]).reshape(-1, 4),
        views=[p.view for p, _ in kept], kinds=[p.kind for p, _ in kept], face=face,
    )
