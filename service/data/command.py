"""`boxpose synth`: write a synthetic data set (images + COCO keypoint file) or a contact sheet."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2

from service.data.synth.scene import SynthConfig
from service.data.synth.writer import SKELETONS, contact_sheet, write_dataset


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, help="output directory (images/ + annotations.json)")
    parser.add_argument("--count", type=int, default=1000, help="number of images")
    parser.add_argument("--seed", type=int, default=0, help="image i uses seed + i")
    parser.add_argument("--width", type=int, default=384)
    parser.add_argument("--height", type=int, default=384)
    parser.add_argument("--min-people", type=int, default=0)
    parser.add_argument("--max-people", type=int, default=12)
    parser.add_argument("--min-height", type=float, default=SynthConfig.min_height,
                        help="smallest person height, fraction of the image height")
    parser.add_argument("--max-height", type=float, default=SynthConfig.max_height)
    parser.add_argument("--views", default=",".join(str(w) for w in SynthConfig.view_weights),
                        help="relative weights of front, back and side views")
    parser.add_argument("--workers", type=int, default=1, help="processes")
    parser.add_argument("--skeleton", choices=SKELETONS, default="aic14",
                        help="keypoints of the annotation file: AI Challenger's 14 or COCO's 17 "
                             "(nose, eyes and ears placed on the drawn head)")
    parser.add_argument("--contact-sheet", type=Path, default=None,
                        help="write a PNG grid of --count scenes with skeletons instead")


def _weights(text: str) -> tuple[float, float, float]:
    try:
        front, back, side = (float(w) for w in text.split(","))
    except ValueError:
        raise SystemExit(f"--views wants three weights (front,back,side), got {text!r}") from None
    if min(front, back, side) < 0 or front + back + side <= 0:
        raise SystemExit(f"--views weights must be >= 0 with a positive sum, got {text!r}")
    return front, back, side


def run(args: argparse.Namespace) -> int:
    config = SynthConfig(min_people=args.min_people, max_people=args.max_people,
                         min_height=args.min_height, max_height=args.max_height,
                         view_weights=_weights(args.views))
    if args.contact_sheet is not None:
        sheet = contact_sheet(args.seed, min(args.count, 24), args.width, args.height,
                              config=config)
        args.contact_sheet.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(args.contact_sheet), sheet[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 9])
        print(f"wrote {args.contact_sheet}")
        return 0
    if args.out is None:
        print("boxpose synth: --out is required (or --contact-sheet PATH)")
        return 2
    start = time.perf_counter()
    coco = write_dataset(args.out, args.count, args.seed, args.width, args.height, config,
                         workers=args.workers, progress=True, skeleton=args.skeleton)
    took = time.perf_counter() - start
    print(f"wrote {len(coco['images'])} images, {len(coco['annotations'])} people to {args.out} "
          f"in {took:.1f} s ({1000 * took / max(args.count, 1):.1f} ms/image)")
    return 0
