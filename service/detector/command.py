"""`boxpose train --kind detector ...`: the detector's training options and their run.

The lead's `train` command dispatches here; `python -m service.detector.command ...` runs the
same thing directly.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from service.detector.config import DETECTOR_PRESETS
from service.runtime.model_store import MODEL_STORE


def register(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--preset", choices=sorted(DETECTOR_PRESETS), default="lite")
    # The first spelling of each option matches `boxpose train pose`.
    add("--train", "--train-dir", dest="train_dir", type=Path,
        default=Path("data/train"), help="COCO directory: annotations.json + images/")
    add("--val", "--val-dir", dest="val_dir", type=Path, default=Path("data/val"))
    add("--run-dir", "--runs-dir", dest="runs_dir", type=Path, default=Path("runs/detector"),
        help="checkpoints: last.pt, best.pt")
    add("--model-store", "--store", dest="store", type=Path, default=MODEL_STORE,
        help="model store to export the best epoch to")
    add("--export-name", "--name", dest="name", default="detector-lite",
        help="model name in the store")
    add("--epochs", type=int, default=24)
    add("--batch-size", type=int, default=16)
    add("--learning-rate", "--lr", dest="lr", type=float, default=2e-3)
    add("--warmup-steps", type=int, default=300)
    add("--seed", type=int, default=0)
    add("--threads", type=int, default=1, help="torch threads")
    add("--checkpoint-minutes", type=float, default=5.0)
    add("--max-steps", type=int, default=None, help="stop after this many steps (smoke runs)")
    add("--train-limit", type=int, default=None, help="use only the first N training images")
    add("--val-limit", type=int, default=None, help="validate on the first N images only")
    add("--resume", action="store_true", help="continue from RUNS_DIR/last.pt if it exists")


def run(args: argparse.Namespace) -> int:
    from service.detector.train import DetectorTrainConfig, train_detector

    cfg = DetectorTrainConfig(
        train_dir=args.train_dir, val_dir=args.val_dir, preset=args.preset,
        runs_dir=args.runs_dir, store=args.store, name=args.name, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, warmup_steps=args.warmup_steps, seed=args.seed,
        threads=args.threads,
        checkpoint_minutes=args.checkpoint_minutes, max_steps=args.max_steps,
        train_limit=args.train_limit, val_limit=args.val_limit,
    )  # fmt: skip
    command = getattr(args, "command_line", None) or shlex.join(["boxpose", *sys.argv[1:]])
    ap = train_detector(cfg, resume=args.resume, command=command)
    print(f"last validation: box AP50 {ap.ap50:.4f}, AP {ap.ap:.4f}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m service.detector.command",
                                     description="train the person detector")
    register(parser)
    args = parser.parse_args()
    args.command_line = shlex.join(["python", "-m", "service.detector.command", *sys.argv[1:]])
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
