"""`boxpose export --preset bottomup-blazepose --checkpoint FILE`: a `boxpose train bottomup`
checkpoint -> model_store/<name>/ (maps, fields and the box head in one module).
`service/cli.py` adds these options to the `export` command, whose `--preset`, `--checkpoint`,
`--skeleton`, `--name` and `--store` are the network command's."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from service.network.command import BOTTOMUP


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", choices=("average", "last"), default="average",
                        help="bottomup-blazepose: the checkpoint's moving average of the weights "
                             "(where it holds one) or the last step's")  # fmt: skip
    parser.add_argument("--manifest-extra", type=Path,
                        help="JSON object merged into the manifest (bottomup-blazepose): training "
                             "data and their terms, recipe, measured scores")


def claims(args: argparse.Namespace) -> bool:
    """True where the export is of the bottom-up net (and not only parameter counts)."""
    return bool(args.preset == BOTTOMUP and not args.params)


def run(args: argparse.Namespace) -> int:
    import torch

    from service.network.bottomup import BottomUpConfig, BottomUpNet
    from service.network.export import export_bottomup
    from service.network.trunks import LiteTrunk, Trunk, blazepose_trunk
    from service.runtime.model_store import default_store
    from service.skeleton import SKELETONS
    from service.training.checkpoint import exported_weights

    if args.checkpoint is None:
        raise SystemExit(f"boxpose export: --preset {BOTTOMUP} needs --checkpoint")
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    weights = exported_weights(state, args.weights)
    # a checkpoint of the from-scratch comparison (`train bottomup --trunk lite`) holds a
    # ResNet backbone where the BlazePose trunk's layers would be
    lite = any(k.startswith("trunk.backbone.") for k in weights)
    trunk: Trunk = LiteTrunk() if lite else blazepose_trunk()
    skeleton = SKELETONS[args.skeleton]
    net = BottomUpNet(BottomUpConfig(), skeleton, trunk, trunk.channels, trunk.pad_multiple)
    net.load_state_dict(weights)
    extra = json.loads(args.manifest_extra.read_text()) if args.manifest_extra else {}
    extra.setdefault("training", {})["steps"] = state.get("progress", {}).get("step")
    extra["training"]["weights"] = ("moving average (decay per step in the recipe)"
                                    if args.weights == "average" and "ema" in state
                                    else "last step")  # fmt: skip
    out = export_bottomup(net.eval(), args.store or default_store(), args.name or "pose-real",
                          skeleton, extra)  # fmt: skip
    print(f"exported {out}")
    return 0
