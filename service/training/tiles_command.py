"""`boxpose train tiles`: decode the training photos once into a tile cache
(`service.data.tiles`) for `boxpose train bottomup`.

Sources: LSPet's training range (never the held-out dev images, `service.data.real_split`), the
COCO subset (COCO-17 people: neck and head top unlabelled; crowds and people without keypoints
masked) and synthetic scenes (crowds and occlusion).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from pathlib import Path

from service.data.sample import Sample


def register(parser: argparse.ArgumentParser) -> None:
    from service.data.real_split import DEFAULT_DATA_ROOT, LSPET_TRAIN

    parser.add_argument("--out", type=Path, required=True, help="the cache file (.npz)")
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    parser.add_argument("--lspet", default=f"{LSPET_TRAIN[0]}-{LSPET_TRAIN[1]}",
                        help="1-based LSPet image range FIRST-LAST, or 'none'")
    parser.add_argument("--coco-mini", action="store_true", help="add coco-mini-train")
    parser.add_argument("--synth", type=int, default=0, help="this many synthetic scenes")
    parser.add_argument("--synth-seed", type=int, default=5_000_000)
    parser.add_argument("--size", type=int, default=224, help="tile side, px")
    parser.add_argument("--context", type=float, default=1.6,
                        help="tile side / longer side of the people's union box")


def lspet_samples(data_root: Path, first: int, last: int) -> Iterator[Sample]:
    from service.data.real_split import lspet_training_rows
    from service.data.sample import read_rgb

    for row in lspet_training_rows(data_root, first, last):
        yield Sample(read_rgb(str(row.path)), row.keypoints[None].astype("float32"),
                     row.box[None].astype("float32"), None)  # fmt: skip


def coco_samples(data_root: Path) -> Iterator[Sample]:
    from service.data.mmpose_sets import DEFAULT_OPTIONS
    from service.data.real import RecordSource
    from service.data.real_split import coco_mini

    source = RecordSource(coco_mini(data_root, DEFAULT_OPTIONS))
    for i in range(len(source)):
        yield source.load(i)


def synth_samples(count: int, seed: int) -> Iterator[Sample]:
    from service.data.dataset import SynthSource

    source = SynthSource(count, seed=seed, width=384, height=384)
    for i in range(count):
        yield source.load(i)


def run(args: argparse.Namespace) -> int:
    from service.data.tiles import TileSet, build_tiles

    sets = []
    started = time.monotonic()
    if args.lspet != "none":
        first, last = (int(v) for v in args.lspet.split("-"))
        sets.append(build_tiles(lspet_samples(args.data_root, first, last), args.size,
                                args.context))  # fmt: skip
    if args.coco_mini:  # whole photos: every person in the tile
        sets.append(build_tiles(coco_samples(args.data_root), args.size, 1.05))
    if args.synth:
        sets.append(build_tiles(synth_samples(args.synth, args.synth_seed), args.size, 1.05))
    if not sets:
        raise SystemExit("boxpose train tiles: nothing to cache (no --lspet, --coco-mini, --synth)")
    tiles = TileSet.concat(sets)
    tiles.save(args.out)
    print(f"{len(tiles)} tiles, {len(tiles.boxes)} people -> {args.out} "
          f"({time.monotonic() - started:.0f} s)")  # fmt: skip
    return 0
