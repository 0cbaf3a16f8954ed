"""`boxpose export`: a preset (optionally with trained weights) -> model_store/<name>/."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from service.network.config import PRESETS
from service.network.export import export_model
from service.network.net import build_network, count_parameters
from service.skeleton import SKELETONS

# Parameter counts the paper reports (Table III), for the presets that reproduce its rows.
TABLE_III = {"paper": 27.42, "paper-6stage": 54.73, "paper-3stage-no-upsample": 26.00}


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", choices=sorted(PRESETS), default="lite")
    parser.add_argument("--skeleton", choices=sorted(SKELETONS), default="aic14")
    parser.add_argument("--checkpoint", type=Path, help="training checkpoint ('model' weights)")
    parser.add_argument("--name", help="model name in the store (default: pose-<preset>)")
    parser.add_argument("--store", type=Path, help="model store directory (default: model_store)")
    parser.add_argument("--params", action="store_true", help="only print parameter counts")


def run(args: argparse.Namespace) -> int:
    skeleton = SKELETONS[args.skeleton]
    if args.params:
        print(f"{'preset':28s} {'params':>9s}  Table III")
        for name in PRESETS:
            params = count_parameters(build_network(name, skeleton)) / 1e6
            paper = TABLE_III.get(name)
            ref = f"{paper:.2f}M ({(params / paper - 1) * 100:+.1f}%)" if paper else "-"
            print(f"{name:28s} {params:8.2f}M  {ref}")
        return 0
    net = build_network(args.preset, skeleton)
    if args.checkpoint:
        state = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
        net.load_state_dict(state.get("model", state))
    from service.runtime.model_store import MODEL_STORE

    out = export_model(net.eval(), args.store or MODEL_STORE, args.name or f"pose-{args.preset}",
                       skeleton)  # fmt: skip
    print(f"exported {out}")
    return 0
