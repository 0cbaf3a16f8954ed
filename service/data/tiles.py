"""Annotated photos -> a cache of fixed-size tiles around their people, decoded once.

Training on 2 cores cannot afford to decode and resize a JPEG per sample. Each photo becomes one
`size` x `size` uint8 tile: a square around its annotated people (LSPet: the one main person,
grown by `context`), resized, with the keypoints, boxes and ignore mask carried into tile pixels.
The mosaic (`service.data.mosaic`) then composes training canvases from tiles only.

The cache is one `.npz` of arrays: images (T, S, S, 3) uint8, keypoints (P, J, 3) float32,
boxes (P, 4) float32, person_tile (P,) int32, ignore (T, S, S) bool; tile i's people are the rows
where person_tile == i.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from service.data.sample import Sample


@dataclass(frozen=True)
class TileSet:
    images: np.ndarray  # (T, S, S, 3) uint8 RGB
    keypoints: np.ndarray  # (P, J, 3) x, y, v in tile pixels; v 0 unlabelled, 1 hidden, 2 visible
    boxes: np.ndarray  # (P, 4) x1, y1, x2, y2 in tile pixels
    person_tile: np.ndarray  # (P,) tile index of each person
    ignore: np.ndarray  # (T, S, S) bool: crowds and unannotated people

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def people_of(self, tile: int) -> np.ndarray:
        return np.flatnonzero(self.person_tile == tile)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, images=self.images, keypoints=self.keypoints, boxes=self.boxes,
                 person_tile=self.person_tile, ignore=self.ignore)  # fmt: skip

    @classmethod
    def load(cls, path: Path) -> TileSet:
        with np.load(path) as data:
            return cls(**{k: data[k] for k in data.files})

    @classmethod
    def concat(cls, sets: Sequence[TileSet]) -> TileSet:
        offsets = np.cumsum([0] + [len(s) for s in sets[:-1]])
        return cls(
            images=np.concatenate([s.images for s in sets]),
            keypoints=np.concatenate([s.keypoints for s in sets]),
            boxes=np.concatenate([s.boxes for s in sets]),
            person_tile=np.concatenate([s.person_tile + o for s, o in zip(sets, offsets,
                                                                          strict=True)]),
            ignore=np.concatenate([s.ignore for s in sets]),
        )


def tile_window(boxes: np.ndarray, context: float) -> tuple[float, float, float]:
    """(N, 4) people boxes -> (cx, cy, side) of the square that holds them all, grown by
    `context` (1.6 = the side is 1.6 x the longer side of their union)."""
    x1, y1 = boxes[:, 0].min(), boxes[:, 1].min()
    x2, y2 = boxes[:, 2].max(), boxes[:, 3].max()
    side = max(x2 - x1, y2 - y1, 1.0) * context
    return (x1 + x2) / 2, (y1 + y2) / 2, side


def cut_tile(sample: Sample, size: int, context: float) -> Sample:
    """One photo's sample -> the square tile around its people, `size` px, zero borders."""
    cx, cy, side = tile_window(sample.boxes, context)
    scale = size / side
    matrix = np.array([[scale, 0, size / 2 - scale * cx],
                       [0, scale, size / 2 - scale * cy]], np.float64)  # fmt: skip
    image = cv2.warpAffine(sample.image, matrix, (size, size), flags=cv2.INTER_AREA
                           if scale < 1 else cv2.INTER_LINEAR, borderValue=(0, 0, 0))  # fmt: skip
    kp = sample.keypoints.astype(np.float64).copy()
    kp[..., :2] = kp[..., :2] * scale + matrix[:, 2]
    boxes = sample.boxes.astype(np.float64) * scale + np.tile(matrix[:, 2], 2)
    ignore = np.zeros((size, size), bool)
    if sample.ignore is not None:
        warped = cv2.warpAffine(sample.ignore.astype(np.uint8), matrix, (size, size),
                                flags=cv2.INTER_NEAREST)  # fmt: skip
        ignore = warped.astype(bool)
    return Sample(image, kp.astype(np.float32), boxes.astype(np.float32), ignore)


def build_tiles(samples: Iterable[Sample], size: int, context: float) -> TileSet:
    """Samples with at least one person -> a TileSet (photos without people are skipped)."""
    images: list[np.ndarray] = []
    keypoints: list[np.ndarray] = []
    boxes: list[np.ndarray] = []
    ignores: list[np.ndarray] = []
    owner: list[int] = []
    for sample in samples:
        if len(sample.boxes) == 0:
            continue
        tile = cut_tile(sample, size, context)
        owner += [len(images)] * len(tile.boxes)
        images.append(tile.image)
        keypoints.append(tile.keypoints)
        boxes.append(tile.boxes)
        ignores.append(np.zeros((size, size), bool) if tile.ignore is None else tile.ignore)
    return TileSet(
        images=np.stack(images), keypoints=np.concatenate(keypoints),
        boxes=np.concatenate(boxes), person_tile=np.asarray(owner, np.int32),
        ignore=np.stack(ignores),
    )  # fmt: skip
