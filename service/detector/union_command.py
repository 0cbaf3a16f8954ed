"""`boxpose export --union DETECTOR BOX_HEAD_MODEL`: two stored models -> one detector in the store
(service/detector/union.py). `service/cli.py` adds these options to the `export` command."""

from __future__ import annotations

import argparse


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--union", nargs=2, metavar=("DETECTOR", "BOX_HEAD_MODEL"),
                        help="instead of a preset: a detector joining DETECTOR (BlazePose's, "
                             "with alignment keypoints) and the box head of BOX_HEAD_MODEL "
                             "where DETECTOR found nobody (service/detector/union.py); "
                             "--name defaults to detector-union")
    parser.add_argument("--union-max-iou", type=float, default=0.3,
                        help="a box-head box overlapping a DETECTOR box by this IoU is dropped")
    parser.add_argument("--union-verify-grow", type=float, default=1.3,
                        help="a box-head box is kept only if DETECTOR, run on a square crop this "
                             "many times its long side, finds a person there (0: no check)")
    parser.add_argument("--union-verify-threshold", type=float, default=0.3,
                        help="DETECTOR's score needed in that crop")


def claims(args: argparse.Namespace) -> bool:
    """True where the export is a union (`--union` given, and not only parameter counts)."""
    return args.union is not None and not args.params


def run(args: argparse.Namespace) -> int:
    from service.detector.union import UNION_NAME, export_union
    from service.runtime.model_store import default_store

    primary, supplement = args.union
    out = export_union(args.store or default_store(), args.name or UNION_NAME, primary, supplement,
                       max_iou=args.union_max_iou, verify_grow=args.union_verify_grow,
                       verify_threshold=args.union_verify_threshold)  # fmt: skip
    print(f"exported {out}")
    return 0
