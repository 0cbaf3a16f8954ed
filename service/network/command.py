"""`boxpose export`: a network preset (optionally with trained weights) -> model_store/<name>/,
or `--params`: every preset's parameter count.

The command's other exports add their options to the same parser (`service/cli.py` lists them):
`--preset bottomup-blazepose` a `boxpose train bottomup` checkpoint
(service/training/export_command.py), `--union` two stored models joined into one detector
(service/detector/union_command.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from service.network.config import PRESETS
from service.network.export import export_model
from service.network.net import build_network, count_parameters
from service.network.openpose import OPENPOSE_PRESETS, OpenPoseNet
from service.skeleton import COCO18, SKELETONS, Skeleton

# Parameter counts the paper reports (Table III), for the presets that reproduce its rows.
TABLE_III = {"paper": 27.42, "paper-6stage": 54.73, "paper-3stage-no-upsample": 26.00,
             "vgg-6stage": 51.29}  # fmt: skip
BOTTOMUP = "bottomup-blazepose"  # exported by service/training/export_command.py


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", choices=sorted(PRESETS) + sorted(OPENPOSE_PRESETS) + [BOTTOMUP],
                        default="lite")
    parser.add_argument("--skeleton", choices=sorted(SKELETONS), default="aic14")
    parser.add_argument("--checkpoint", type=Path, help="training checkpoint ('model' weights)")
    parser.add_argument("--name", help="model name in the store (default: pose-<preset>)")
    parser.add_argument("--store", type=Path, help="model store directory (default: model_store)")
    parser.add_argument("--params", action="store_true", help="only print parameter counts")


def run(args: argparse.Namespace) -> int:
    if args.params:
        _print_params(SKELETONS[args.skeleton])
        return 0
    if args.preset == BOTTOMUP:
        raise SystemExit(f"boxpose export: --preset {BOTTOMUP} is exported by "
                         "service.training.export_command")  # fmt: skip
    skeleton = SKELETONS[args.skeleton]
    net = build_network(args.preset, skeleton)
    if args.checkpoint:
        state = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
        net.load_state_dict(state.get("model", state))
    from service.runtime.model_store import default_store

    out = export_model(net.eval(), args.store or default_store(),
                       args.name or f"pose-{args.preset}", skeleton)
    print(f"exported {out}")
    return 0


def _print_params(skeleton: Skeleton) -> None:
    print(f"{'preset':28s} {'params':>9s}  Table III")
    counts = {name: count_parameters(build_network(name, skeleton)) for name in PRESETS}
    for name, cfg in OPENPOSE_PRESETS.items():  # OpenPose's own outputs are COCO-18's
        own = COCO18 if cfg.outputs == "openpose" else skeleton
        counts[name] = count_parameters(OpenPoseNet(cfg, own))
    for name, count in counts.items():
        params, paper = count / 1e6, TABLE_III.get(name)
        ref = f"{paper:.2f}M ({(params / paper - 1) * 100:+.1f}%)" if paper else "-"
        print(f"{name:28s} {params:8.2f}M  {ref}")
