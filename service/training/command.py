"""`boxpose train pose|detector|bottomup|tiles`: train a model (or cache its training tiles) and
export its best checkpoint to model_store."""

from __future__ import annotations

import argparse
from pathlib import Path

from service.training.config import TrainConfig

_FIELDS = {f.name: f for f in TrainConfig.__dataclass_fields__.values()}


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    pose = sub.add_parser("pose", help="the pose network (maps and fields)")
    pose.add_argument("--train", type=Path, nargs="+", required=True,
                      help="one or more dirs with annotations.json + images/")
    pose.add_argument("--val", type=Path, required=True, help="validation dir, same layout")
    defaults = TrainConfig(Path(), Path(), Path(), Path())
    for name in (
        "run_dir", "preset", "skeleton", "batch_size", "learning_rate", "epochs", "max_steps",
        "crop_size", "p_person", "min_person", "max_person", "sigma", "delta", "relative_sigma",
        "foreground_weight", "twin_weight", "warmup_steps", "schedule_steps", "workers", "threads",
        "checkpoint_minutes", "val_limit", "seed", "backbone_weights", "init_checkpoint",
        "export_name", "model_store",
    ):  # fmt: skip
        default = getattr(defaults, name)
        paths = ("run_dir", "backbone_weights", "init_checkpoint", "model_store")
        kind = Path if name in paths else type(default)
        pose.add_argument(f"--{name.replace('_', '-')}", type=kind, default=default)
    pose.add_argument("--resume", action="store_true", help="continue from RUN_DIR/last.pt")
    detector = sub.add_parser("detector", help="the person detector")
    from service.detector import command as detector_command

    detector_command.register(detector)
    bottomup = sub.add_parser("bottomup", help="the bottom-up net with a box head, real photos")
    from service.training import bottomup_command

    bottomup_command.register(bottomup)
    tiles = sub.add_parser("tiles", help="decode training photos once into a tile cache")
    from service.training import tiles_command

    tiles_command.register(tiles)


def run(args: argparse.Namespace) -> int:
    if args.kind == "detector":
        from service.detector import command as detector_command

        return int(detector_command.run(args) or 0)
    if args.kind == "tiles":
        from service.training import tiles_command

        return tiles_command.run(args)
    if args.kind == "bottomup":
        from service.training import bottomup_command

        return bottomup_command.run(args)
    from service.training.loop import train

    values = {k: v for k, v in vars(args).items() if k in _FIELDS}
    first, *extra = args.train
    cfg = TrainConfig(
        train_annotations=first / "annotations.json", train_images=first / "images",
        extra_train=tuple(extra),
        val_annotations=args.val / "annotations.json", val_images=args.val / "images",
        **values,
    )
    progress = train(cfg)
    print(f"done: {progress.step} steps, best AP {progress.best_ap:.4f} at epoch "
          f"{progress.best_epoch}")  # fmt: skip
    return 0
