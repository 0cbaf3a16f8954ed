"""Tiles -> mosaic training canvases: several real annotated people, with their context,
overlapping at varied scales on one canvas, so that the direction fields learn to keep
neighbours apart (real photos hold few annotated crowds).

Layer 0 is one tile warped to fill the canvas (random scale, rotation, flip). Each further layer
is another tile's person with some context around it, warped to a random place and size and
blended in through a feathered mask; joints of earlier people that the new layer covers become
hidden (v = 1: still labelled, as COCO labels occluded joints), and earlier ignore regions it
covers are replaced by its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from service.data.sample import Sample
from service.data.tiles import TileSet
from service.skeleton import Skeleton


@dataclass(frozen=True)
class MosaicConfig:
    size: int = 256  # canvas side, px
    layers: tuple[float, ...] = (0.35, 0.25, 0.2, 0.12, 0.08)  # P(1, 2, ... layers)
    base_scale: tuple[float, float] = (0.9, 2.2)  # layer 0: canvas side / tile side x this
    person_height: tuple[float, float] = (0.18, 0.75)  # pasted person's box side / canvas side
    paste_context: float = 1.35  # the pasted region is the person box grown by this
    rotation: float = 30.0  # degrees, uniform +-
    flip: float = 0.5
    max_cover: float = 0.6  # a new layer may cover at most this fraction of an earlier person
    jitter: float = 0.25  # brightness/contrast jitter per layer


def _affine(centre_src: np.ndarray, centre_dst: np.ndarray, scale: float, degrees: float,
            flip: bool) -> np.ndarray:
    """(2, 3) matrix: mirror (optionally) about centre_src, rotate and scale about it, then move
    it to centre_dst."""
    rot = cv2.getRotationMatrix2D((0.0, 0.0), degrees, scale)[:, :2]  # (2, 2)
    mirror = np.diag([-1.0, 1.0]) if flip else np.eye(2)
    linear = rot @ mirror
    return np.hstack([linear, (centre_dst - linear @ centre_src)[:, None]])


def _warp_people(kp: np.ndarray, boxes: np.ndarray, matrix: np.ndarray, flip: bool,
                 skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """(N, J, 3), (N, 4) -> warped keypoints (twins swapped when mirrored) and box extents."""
    kp = kp.copy()
    kp[..., :2] = kp[..., :2] @ matrix[:, :2].T + matrix[:, 2]
    if flip:
        kp = kp[:, list(skeleton.flip_permutation)]
    x1, y1, x2, y2 = boxes.T
    corners = np.stack([np.stack([x1, y1], -1), np.stack([x2, y1], -1),
                        np.stack([x1, y2], -1), np.stack([x2, y2], -1)], 1)  # (N, 4, 2)
    warped = corners @ matrix[:, :2].T + matrix[:, 2]
    return kp, np.concatenate([warped.min(1), warped.max(1)], axis=1)


def _jitter(image: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    gain = 1 + rng.uniform(-amount, amount)
    bias = rng.uniform(-amount, amount) * 64
    return np.clip(image.astype(np.float32) * gain + bias, 0, 255)


class Mosaic:
    """Draws mosaic canvases (as `Sample`s in canvas pixels) from a TileSet."""

    def __init__(self, tiles: TileSet, skeleton: Skeleton, cfg: MosaicConfig) -> None:
        self.tiles, self.skeleton, self.cfg = tiles, skeleton, cfg
        self.tile_size = int(tiles.images.shape[1])

    def draw(self, rng: np.random.Generator, first: int | None = None) -> Sample:
        cfg = self.cfg
        n_layers = 1 + int(rng.choice(len(cfg.layers), p=np.asarray(cfg.layers) /
                                      sum(cfg.layers)))  # fmt: skip
        tile = int(rng.integers(len(self.tiles))) if first is None else first
        canvas, kp, boxes, ignore = self._base(tile, rng)
        for _ in range(n_layers - 1):
            canvas, kp, boxes, ignore = self._paste(canvas, kp, boxes, ignore, rng)
        image = np.clip(canvas, 0, 255).astype(np.uint8)
        return Sample(image, kp.astype(np.float32), boxes.astype(np.float32), ignore)

    def _base(self, tile: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        cfg, s = self.cfg, self.tile_size
        scale = cfg.size / s * rng.uniform(*cfg.base_scale)
        shift = rng.uniform(-0.2, 0.2, 2) * cfg.size
        flip = bool(rng.random() < cfg.flip)
        matrix = _affine(np.array([s / 2, s / 2]), np.full(2, cfg.size / 2) + shift, scale,
                         rng.uniform(-cfg.rotation, cfg.rotation), flip)  # fmt: skip
        people = self.tiles.people_of(tile)
        image = cv2.warpAffine(self.tiles.images[tile], matrix, (cfg.size, cfg.size),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        ignore = cv2.warpAffine(self.tiles.ignore[tile].astype(np.uint8), matrix,
                                (cfg.size, cfg.size), flags=cv2.INTER_NEAREST).astype(bool)
        kp, boxes = _warp_people(self.tiles.keypoints[people].astype(np.float64),
                                 self.tiles.boxes[people].astype(np.float64), matrix, flip,
                                 self.skeleton)  # fmt: skip
        return _jitter(image, rng, cfg.jitter), kp, boxes, ignore

    def _paste(self, canvas: np.ndarray, kp: np.ndarray, boxes: np.ndarray, ignore: np.ndarray,
               rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        cfg = self.cfg
        person = int(rng.integers(len(self.tiles.boxes)))
        tile = int(self.tiles.person_tile[person])
        box = self.tiles.boxes[person].astype(np.float64)
        side = max(box[2] - box[0], box[3] - box[1], 1.0)
        scale = rng.uniform(*cfg.person_height) * cfg.size / side
        flip = bool(rng.random() < cfg.flip)
        degrees = rng.uniform(-cfg.rotation, cfg.rotation)
        centre = (box[:2] + box[2:]) / 2
        for _ in range(5):  # a place that leaves every earlier person mostly in sight
            matrix = _affine(centre, rng.uniform(0.1, 0.9, 2) * cfg.size, scale, degrees, flip)
            alpha = self._alpha(box, matrix)
            if _max_cover(alpha, boxes) <= cfg.max_cover:
                break
        else:
            return canvas, kp, boxes, ignore
        people = self.tiles.people_of(tile)
        size = (cfg.size, cfg.size)
        layer = cv2.warpAffine(self.tiles.images[tile], matrix, size, flags=cv2.INTER_LINEAR)
        a = alpha[..., None]
        canvas = canvas * (1 - a) + _jitter(layer, rng, cfg.jitter) * a
        new_ignore = cv2.warpAffine(self.tiles.ignore[tile].astype(np.uint8), matrix, size,
                                    flags=cv2.INTER_NEAREST).astype(bool)  # fmt: skip
        covered = alpha > 0.5
        ignore = np.where(covered, new_ignore, ignore)
        kp = _hide_covered(kp, covered)
        new_kp, new_boxes = _warp_people(self.tiles.keypoints[people].astype(np.float64),
                                         self.tiles.boxes[people].astype(np.float64), matrix,
                                         flip, self.skeleton)  # fmt: skip
        # Only the chosen person is surely inside the pasted region; its tile-mates are cut.
        keep = people == person
        return canvas, np.concatenate([kp, new_kp[keep]]), np.concatenate(
            [boxes, new_boxes[keep]]), ignore

    def _alpha(self, box: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        """(S, S) float blend weight: the grown person box, warped, edges feathered."""
        s, cfg = self.tile_size, self.cfg
        centre, half = (box[:2] + box[2:]) / 2, (box[2:] - box[:2]) / 2 * cfg.paste_context
        mask = np.zeros((s, s), np.float32)
        lo = np.clip(np.floor(centre - half), 0, s).astype(int)
        hi = np.clip(np.ceil(centre + half), 0, s).astype(int)
        mask[lo[1]:hi[1], lo[0]:hi[0]] = 1.0
        warped = cv2.warpAffine(mask, matrix, (cfg.size, cfg.size), flags=cv2.INTER_LINEAR)
        return cv2.GaussianBlur(warped, (0, 0), sigmaX=max(1.0, cfg.size / 128))


def _max_cover(alpha: np.ndarray, boxes: np.ndarray) -> float:
    """The largest fraction of any (in-canvas part of a) box that alpha > 0.5 covers."""
    covered = alpha > 0.5
    h, w = covered.shape
    worst = 0.0
    for x1, y1, x2, y2 in boxes:
        c0, r0 = int(np.clip(x1, 0, w)), int(np.clip(y1, 0, h))
        c1, r1 = int(np.clip(x2, 0, w)), int(np.clip(y2, 0, h))
        if c1 > c0 and r1 > r0:
            worst = max(worst, float(covered[r0:r1, c0:c1].mean()))
    return worst


def _hide_covered(kp: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """Visible joints (v = 2) under the new layer become hidden (v = 1)."""
    h, w = covered.shape
    kp = kp.copy()
    col = np.clip(np.round(kp[..., 0]).astype(int), 0, w - 1)
    row = np.clip(np.round(kp[..., 1]).astype(int), 0, h - 1)
    inside = (kp[..., 0] >= 0) & (kp[..., 0] < w) & (kp[..., 1] >= 0) & (kp[..., 1] < h)
    hit = inside & covered[row, col] & (kp[..., 2] == 2)
    kp[..., 2] = np.where(hit, 1, kp[..., 2])
    return kp
