"""`boxpose train detector` options reach the detector's training configuration."""

from __future__ import annotations

from pathlib import Path

from service.cli import build_parser


def test_train_detector_options_parse_with_pose_spellings() -> None:
    args = build_parser("train").parse_args([
        "train", "detector", "--train", "/d/train", "--val", "/d/val", "--run-dir", "/r",
        "--model-store", "/s", "--export-name", "det", "--learning-rate", "0.01", "--resume",
    ])  # fmt: skip
    assert args.kind == "detector"
    assert (args.train_dir, args.val_dir, args.runs_dir) == (Path("/d/train"), Path("/d/val"),
                                                             Path("/r"))
    assert (args.store, args.name, args.lr, args.resume) == (Path("/s"), "det", 0.01, True)
    assert args.preset == "lite" and args.epochs == 24
