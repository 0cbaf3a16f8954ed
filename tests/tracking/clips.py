"""Generated clips of known identities for the tracking tests: people walking along crossing
paths, their poses seen with noise, missed in some frames, and hidden while another passes in
front; plus the ground truth to score a tracker with a MOT metrics library."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service.skeleton import AIC14
from service.types import Box, BoxSource, Pose

# A standing person's AIC-14 joints, relative to (centre x, top) in units of their height.
SHAPE = np.array([
    (-0.12, 0.2), (-0.17, 0.36), (-0.2, 0.5), (0.12, 0.2), (0.17, 0.36), (0.2, 0.5),
    (-0.07, 0.53), (-0.09, 0.76), (-0.1, 0.97), (0.07, 0.53), (0.09, 0.76), (0.1, 0.97),
    (0, 0), (0, 0.18),
])  # fmt: skip


@dataclass(frozen=True)
class Seen:
    person: int  # ground-truth identity
    pose: Pose


@dataclass(frozen=True)
class Clip:
    fps: float
    truth: list[list[tuple[int, np.ndarray]]]  # per frame: (identity, (4,) box) of each person
    seen: list[list[Seen]]  # per frame: what a pose model would answer (shuffled)


def crossing_clip(frames: int = 200, people: int = 4, seed: int = 0, fps: float = 25.0,
                  noise_px: float = 3.0, miss_rate: float = 0.05) -> Clip:  # fmt: skip
    """People walking across a 1280x720 frame, left <-> right and up or down a little, turning
    at its edges, so their paths cross again and again; each frame's poses carry joint noise,
    each person is missed at `miss_rate`, and the farther (shorter) of two is hidden while their
    boxes overlap with IoU over 0.5."""
    rng = np.random.default_rng(seed)
    position = np.column_stack([rng.uniform(100, 1180, people), rng.uniform(150, 350, people)])
    velocity = np.column_stack([rng.choice([-1, 1], people) * rng.uniform(3, 7, people),
                                rng.uniform(-0.6, 0.6, people)])  # px per frame  # fmt: skip
    heights = rng.uniform(220, 320, size=people)
    truth, seen = [], []
    for _ in range(frames):
        keypoints = [_person(c, h) for c, h in zip(position, heights, strict=True)]
        boxes = [_box(kp) for kp in keypoints]
        truth.append(list(enumerate(boxes)))
        hidden = _hidden_behind(boxes, heights)
        frame = [Seen(i, _observed(kp, rng, noise_px)) for i, kp in enumerate(keypoints)
                 if i not in hidden and rng.random() >= miss_rate]  # fmt: skip
        rng.shuffle(frame)  # type: ignore[arg-type]
        seen.append(frame)
        position += velocity
        turn = (position[:, 0] < 60) | (position[:, 0] > 1220)
        velocity[turn, 0] *= -1
    return Clip(fps, truth, seen)


def _person(centre: np.ndarray, height: float) -> np.ndarray:
    kp = np.ones((AIC14.num_joints, 3))
    kp[:, :2] = centre + SHAPE * height
    return kp


def _box(kp: np.ndarray) -> np.ndarray:
    return np.concatenate([kp[:, :2].min(0) - 10, kp[:, :2].max(0) + 10])


def _observed(kp: np.ndarray, rng: np.random.Generator, noise_px: float) -> Pose:
    noisy = kp.copy()
    noisy[:, :2] += rng.normal(0, noise_px, size=(len(kp), 2))
    noisy[:, 2] = rng.uniform(0.3, 1.0, size=len(kp))
    b = _box(noisy)
    box = Box(*map(float, b), score=0.9, source=BoxSource.DETECTOR)
    return Pose(noisy, float(noisy[:, 2].mean()), box)


def _hidden_behind(boxes: list[np.ndarray], heights: np.ndarray) -> set[int]:
    """The shorter (farther) of two people whose boxes overlap with IoU over 0.3."""
    hidden = set()
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            if _iou(boxes[i], boxes[j]) > 0.5:
                hidden.add(i if heights[i] < heights[j] else j)
    return hidden


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter
    return float(inter / union)
