"""`boxpose export`: a preset (optionally with trained weights) -> model_store/<name>/; or,
with `--union`, two stored models joined into one detector (service/detector/union.py).

`--preset bottomup-blazepose` exports a `boxpose train bottomup` checkpoint (maps, fields and
the box head in one module); `--manifest-extra` merges a JSON file into its manifest (training
data and their terms, recipe, measured scores)."""

from __future__ import annotations

import argparse
import json
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
BOTTOMUP = "bottomup-blazepose"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", choices=sorted(PRESETS) + sorted(OPENPOSE_PRESETS) + [BOTTOMUP],
                        default="lite")
    parser.add_argument("--skeleton", choices=sorted(SKELETONS), default="aic14")
    parser.add_argument("--checkpoint", type=Path, help="training checkpoint ('model' weights)")
    parser.add_argument("--name", help="model name in the store (default: pose-<preset>)")
    parser.add_argument("--store", type=Path, help="model store directory (default: model_store)")
    parser.add_argument("--params", action="store_true", help="only print parameter counts")
    parser.add_argument("--weights", choices=("average", "last"), default="average",
                        help="bottomup-blazepose: the checkpoint's moving average of the weights "
                             "(where it holds one) or the last step's")  # fmt: skip
    parser.add_argument("--manifest-extra", type=Path,
                        help="JSON object merged into the manifest (bottomup-blazepose)")
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


def run(args: argparse.Namespace) -> int:
    skeleton = SKELETONS[args.skeleton]
    if args.params:
        print(f"{'preset':28s} {'params':>9s}  Table III")
        counts = {name: count_parameters(build_network(name, skeleton)) for name in PRESETS}
        for name, cfg in OPENPOSE_PRESETS.items():  # OpenPose's own outputs are COCO-18's
            own = COCO18 if cfg.outputs == "openpose" else skeleton
            counts[name] = count_parameters(OpenPoseNet(cfg, own))
        for name, count in counts.items():
            params, paper = count / 1e6, TABLE_III.get(name)
            ref = f"{paper:.2f}M ({(params / paper - 1) * 100:+.1f}%)" if paper else "-"
            print(f"{name:28s} {params:8.2f}M  {ref}")
        return 0
    if args.union:
        from service.detector.union import UNION_NAME, export_union
        from service.runtime.model_store import MODEL_STORE

        primary, supplement = args.union
        out = export_union(args.store or MODEL_STORE, args.name or UNION_NAME, primary,
                           supplement, max_iou=args.union_max_iou,
                           verify_grow=args.union_verify_grow,
                           verify_threshold=args.union_verify_threshold)  # fmt: skip
        print(f"exported {out}")
        return 0
    if args.preset == BOTTOMUP:
        return _export_bottomup(args, skeleton)
    net = build_network(args.preset, skeleton)
    if args.checkpoint:
        state = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
        net.load_state_dict(state.get("model", state))
    from service.runtime.model_store import MODEL_STORE

    out = export_model(net.eval(), args.store or MODEL_STORE, args.name or f"pose-{args.preset}",
                       skeleton)  # fmt: skip
    print(f"exported {out}")
    return 0


def _export_bottomup(args: argparse.Namespace, skeleton: Skeleton) -> int:
    from service.network.bottomup import BottomUpConfig, BottomUpNet
    from service.network.export import export_bottomup
    from service.network.trunks import LiteTrunk, Trunk, blazepose_trunk
    from service.runtime.model_store import MODEL_STORE
    from service.training.checkpoint import exported_weights

    if args.checkpoint is None:
        raise SystemExit("boxpose export: --preset bottomup-blazepose needs --checkpoint")
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    weights = exported_weights(state, args.weights)
    # a checkpoint of the from-scratch comparison (`train bottomup --trunk lite`) holds a
    # ResNet backbone where the BlazePose trunk's layers would be
    lite = any(k.startswith("trunk.backbone.") for k in weights)
    trunk: Trunk = LiteTrunk() if lite else blazepose_trunk()
    net = BottomUpNet(BottomUpConfig(), skeleton, trunk, trunk.channels, trunk.pad_multiple)
    net.load_state_dict(weights)
    extra = json.loads(args.manifest_extra.read_text()) if args.manifest_extra else {}
    extra.setdefault("training", {})["steps"] = state.get("progress", {}).get("step")
    extra["training"]["weights"] = ("moving average (decay per step in the recipe)"
                                    if args.weights == "average" and "ema" in state
                                    else "last step")  # fmt: skip
    out = export_bottomup(net.eval(), args.store or MODEL_STORE, args.name or "pose-real",
                          skeleton, extra)  # fmt: skip
    print(f"exported {out}")
    return 0
