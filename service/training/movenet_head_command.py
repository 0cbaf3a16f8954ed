"""The `train` and `export` subcommands of movenet_fields_command (the field head, issue 27)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from service.training.movenet_head import RECIPES, TrainConfig, config_from, train

CACHE_DIR = Path("runs/movenet-cache")
CHECKPOINT = Path("checkpoints/movenet-fields-last.pt")
BEST = Path("checkpoints/movenet-fields-gates-truth-best.pt")  # best served on the dev split


def register_train(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--cache", default=str(CACHE_DIR))
    parser.add_argument("--checkpoint", default=str(CHECKPOINT),
                        help="resumed when it exists (its own configuration wins)")
    parser.add_argument("--recipe", choices=list(RECIPES), default="truth")
    parser.add_argument("--steps", type=int, default=TrainConfig.steps,
                        help="the cosine's length; a resumed run extends to it if longer")
    parser.add_argument("--minutes", type=float, default=60.0, help="this leg's wall budget")
    parser.add_argument("--shards", type=int, default=None, help="the cache's first N only")
    parser.add_argument("--until", type=int, default=None, help="stop this leg at this step")
    parser.add_argument("--lr", type=float, default=TrainConfig.lr)
    parser.add_argument("--batch", type=int, default=TrainConfig.batch)
    parser.add_argument("--snapshots", default=None,
                        help="a folder (under runs/) for a copy every --snapshot-every steps")
    parser.add_argument("--snapshot-every", type=int, default=TrainConfig.snapshot_every)
    return parser


def run_train(args: argparse.Namespace) -> int:
    config = TrainConfig(recipe=args.recipe, steps=args.steps, lr=args.lr, batch=args.batch,
                         shards=args.shards, snapshot_every=args.snapshot_every)
    from service.importers.movenet_fields_export import feature_heads, movenet_graph

    regress = feature_heads(movenet_graph()[0])
    progress = train(Path(args.cache), Path(args.checkpoint), config, args.minutes * 60,
                     regress, args.until,
                     snapshots=Path(args.snapshots) if args.snapshots else None)
    print(f"stopped at step {progress.step} ({progress.seconds / 60:.1f} min in all), "
          f"validation loss {progress.last_val:.4f}; checkpoint {args.checkpoint}")
    return 0


def register_export(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--checkpoint", default=str(BEST))
    parser.add_argument("--store", default="model_store")
    parser.add_argument("--name", default="movenet-fields")
    parser.add_argument("--dev-split", default=None, metavar="DATA_ROOT",
                        help="score the export on the real dev split under DATA_ROOT (e.g. "
                             "../shared/data) and write the scores into its manifest")
    return parser


def run_export(args: argparse.Namespace) -> int:
    from service.importers.movenet_fields_export import export, movenet_graph

    graph, tarball = movenet_graph()
    head, extra = load_head(Path(args.checkpoint))
    path = export(graph, head, Path(args.store), args.name,
                  (tarball.path.name, tarball.sha256), extra)  # fmt: skip
    if args.dev_split:
        manifest_path = path / "manifest.json"
        manifest = json.loads(manifest_path.read_text())
        manifest["dev_split"] = dev_split_scores(Path(args.store), args.name, Path(args.dev_split))
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
        print(json.dumps(manifest["dev_split"]))
    print(f"{args.name}: {path}")
    return 0


def dev_split_scores(store: Path, name: str, data_root: Path) -> dict[str, Any]:
    """The exported model served on the real dev split (service/data/real_split.py): keypoint
    AP on the 12 limb joints, COCO sigmas, served (its own boxes) and in the true boxes, and
    served per subset."""
    from service.data.real_split import load_dataset
    from service.evaluation.real_eval import predict_records
    from service.evaluation.real_metrics import SIGMAS
    from service.evaluation.real_report import score
    from service.runtime.factory import load_pipeline
    from service.runtime.protocol import PipelineConfig

    pipeline = load_pipeline(name, None, "cpu", store, PipelineConfig())
    records = load_dataset("mmpose", data_root)
    reports = {mode: score(records, predict_records(pipeline, records, mode, SIGMAS["coco"]),
                           mode, "box") for mode in ("served", "true")}  # fmt: skip
    served = reports["served"]
    return {"data": "mmpose dev split (service/data/real_split.py)", "photos": len(records),
            "people": served.people, "metric": "keypoint AP, 12 limb joints, COCO sigmas",
            "ap_served": round(served.ap["AP"], 4), "ap_true_boxes":
            round(reports["true"].ap["AP"], 4),
            "ap_served_by_subset": {k: round(v["AP"], 4)
                                    for k, v in served.ap_by_subset.items()}}  # fmt: skip


def load_head(checkpoint: Path) -> tuple[Any, dict[str, Any]]:
    """A checkpoint -> (the head in eval mode, the manifest's `training` record)."""
    from service.network.movenet_fields import FieldHead
    from service.training.checkpoint import read_checkpoint

    state = read_checkpoint(checkpoint)
    config = config_from(state["extra"]["config"])
    head = FieldHead(config.head)
    head.load_state_dict(state["model"])
    training = {"recipe": asdict(RECIPES[config.recipe]) | {"name": config.recipe},
                "config": state["extra"]["config"], "progress": state["progress"],
                "photos": state["extra"].get("cache_photos"),
                "checkpoint": str(checkpoint)}  # fmt: skip
    return head.eval(), {"training": training}


COMMANDS = {"train": (register_train, run_train), "export": (register_export, run_export)}
