"""LSPet training people -> the mosaic sets bench/claims_real.py measures: rows of overlapping
people at each IoU level, and grids of 1..20 people for the cost (images 1..9000 only; the dev
split is never read here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.common import median
from bench.real_mosaics import (
    Mosaic,
    SourcePerson,
    blurred_background,
    compose,
    grid_placement,
    row_height,
    row_placement,
    sizes,
)
from service.data.lsp import LspRow
from service.data.real import AREA_PER_BOX_AREA, ImageRecord
from service.data.real_split import lspet_training_rows
from service.data.sample import read_rgb
from service.evaluation.real_eval import iou

GROUPS = ("all rows", "rows of 2-3", "rows of 4-6")
SIZE = (480, 848)  # (H, W) of every mosaic
MIN_HEIGHT = 110.0  # px: source people at least this tall (LSPet's median is 124)
WIDTH_RATIO = 0.62  # neighbours' width ratio at least this: IoU 0.6 stays reachable


@dataclass(frozen=True)
class Pool:
    """LSPet training people fit to paste: every joint labelled, at least MIN_HEIGHT tall."""

    rows: list[LspRow]
    aspects: np.ndarray  # (P,) box width / height

    def person(self, i: int) -> SourcePerson:
        row = self.rows[i]
        return SourcePerson(read_rgb(str(row.path)), row.keypoints, row.box)

    def background(self, i: int) -> np.ndarray:
        return blurred_background(read_rgb(str(self.rows[i].path)), SIZE)


def load_pool(data_root: Path) -> Pool:
    rows = [r for r in lspet_training_rows(data_root)
            if (r.keypoints[:, 2] > 0).all() and r.box[3] - r.box[1] >= MIN_HEIGHT]  # fmt: skip
    boxes = np.stack([r.box for r in rows])
    w, h = sizes(boxes).T
    return Pool(rows, w / h)


def chain(pool: Pool, n: int, rng: np.random.Generator) -> list[int]:
    """n distinct pool indices, each neighbour pair's width ratio >= WIDTH_RATIO."""
    picks = [int(rng.integers(len(pool.rows)))]
    while len(picks) < n:
        a = pool.aspects[picks[-1]]
        ok = np.minimum(pool.aspects, a) / np.maximum(pool.aspects, a) >= WIDTH_RATIO
        ok[picks] = False
        picks.append(int(rng.choice(np.flatnonzero(ok))))
    return picks


def record(mosaic: Mosaic, name: str, subset: str) -> ImageRecord:
    areas = AREA_PER_BOX_AREA * np.prod(sizes(mosaic.boxes), axis=1)
    return ImageRecord(Path(name), SIZE[1], SIZE[0], mosaic.keypoints, mosaic.boxes, areas,
                       subset=subset)  # fmt: skip


def overlap_sets(pool: Pool, levels: list[float], count: int, seed: int
                 ) -> dict[float, list[Mosaic]]:  # fmt: skip
    """`count` rows of 2..6 people, each drawn once and laid out at every IoU level."""
    out: dict[float, list[Mosaic]] = {level: [] for level in levels}
    for m in range(count):
        rng = np.random.default_rng(seed + m)
        picks = chain(pool, int(rng.integers(2, 7)), rng)
        people = [pool.person(i) for i in picks]
        boxes = np.stack([p.box for p in people])
        height, order = row_height(boxes, SIZE), rng.permutation(len(people))
        background = pool.background(int(rng.integers(len(pool.rows))))
        for level in levels:
            placement = row_placement(boxes, level, SIZE, height)
            out[level].append(compose(people, placement, background, order))
    return out


def cost_photos(pool: Pool, counts: list[int], seed: int) -> dict[int, Mosaic]:
    """One 848x480 grid mosaic of n distinct people per count."""
    out = {}
    for n in counts:
        rng = np.random.default_rng(seed + 1000 + n)
        picks = rng.choice(len(pool.rows), n + 1, replace=False)
        people = [pool.person(int(i)) for i in picks[:n]]
        placement = grid_placement(np.stack([p.box for p in people]), SIZE)
        out[n] = compose(people, placement, pool.background(int(picks[n])))
    return out


def neighbour_iou(mosaic: Mosaic) -> np.ndarray:
    """(N - 1,) IoU of each box with the next one in the row."""
    return np.diagonal(iou(mosaic.boxes[:-1], mosaic.boxes[1:])).copy()


def row_group(mosaic: Mosaic) -> str:
    """Rows of 2-3 people (larger people) against 4-6 (smaller): the size confound."""
    return GROUPS[1] if len(mosaic.boxes) <= 3 else GROUPS[2]


def group_heights(mosaics: list[Mosaic]) -> dict[str, float]:
    """Median person box height (px, in the 848x480 mosaic) per group of rows."""
    heights: dict[str, list[float]] = {g: [] for g in GROUPS}
    for m in mosaics:
        for g in (GROUPS[0], row_group(m)):
            heights[g] += list(m.boxes[:, 3] - m.boxes[:, 1])
    return {g: median(h) for g, h in heights.items()}
