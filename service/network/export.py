"""PoseNet, OpenPoseNet or BottomUpNet -> TorchScript file + manifest.json in a model_store
directory."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import torch

from service.network.bottomup import BottomUpInference, BottomUpNet
from service.network.net import InferenceNet, StagedNet, count_parameters
from service.network.openpose import NORMALISATION, OpenPoseInference, OpenPoseNet
from service.runtime.model_store import sha256_of
from service.skeleton import Skeleton

MODEL_FILE = "model.pt"


def export_model(
    net: StagedNet,
    out_dir: Path,
    name: str,
    skeleton: Skeleton,
    trained_on: dict[str, Any] | None = None,
    validation: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
) -> Path:
    """Script the last-stage inference module into `out_dir/name/` and write its manifest.

    Returns the model directory. `validation` holds measured AP figures (empty until trained).
    """
    if isinstance(net, OpenPoseNet):
        cfg_o = net.config
        module = torch.jit.script(OpenPoseInference(net).cpu().eval())
        header = _pose_header(
            name, cfg_o.name, dataclasses.asdict(cfg_o), skeleton, cfg_o.stride, NORMALISATION,
            f"any; padded inside (right, down) to a multiple of {cfg_o.stride}")
    else:
        cfg = net.config
        module = torch.jit.script(InferenceNet(net).cpu().eval())
        header = _pose_header(
            name, cfg.name, dataclasses.asdict(cfg), skeleton, cfg.output_stride,
            {"mean": list(cfg.mean), "std": list(cfg.std), "inside": True},
            "any; padded inside to a multiple of the feature stride")
    stride = net.output_stride
    return save_model(module, Path(out_dir) / name, {
        **header,
        "outputs": {
            "maps": "(B, J+1, ceil(H/stride), ceil(W/stride)), last channel background",
            "fields": "(B, 2C, ceil(H/stride), ceil(W/stride)), (x, y) per limb",
            "grid": f"cell (i, j) centred on image pixel ((j+0.5)*{stride}-0.5, "
                    f"(i+0.5)*{stride}-0.5)",
        },
        "num_parameters": count_parameters(net),
        "trained_on": trained_on or {},
        "validation": validation or {},
        "training": training or {},
    })  # fmt: skip


def _pose_header(
    name: str, preset: str, network: dict[str, Any], skeleton: Skeleton, stride: int,
    normalisation: dict[str, Any], size: str,
) -> dict[str, Any]:
    """The manifest fields every exported pose network shares: identity, skeleton, stride and
    its input (RGB 0..255, normalised inside the module)."""
    return {
        "name": name, "kind": "pose", "preset": preset, "network": network,
        "skeleton": skeleton.to_dict(), "output_stride": stride,
        "input": {"layout": "NCHW", "dtype": "float32", "color": "RGB", "range": [0, 255],
                  "normalisation": normalisation, "size": size},
    }  # fmt: skip


def save_model(
    module: torch.jit.ScriptModule, model_dir: Path, manifest: dict[str, Any]
) -> Path:
    """Save a scripted module as `model_dir/model.pt` (atomically) and write `manifest.json`:
    the given fields plus version, creation time, file name and sha256. Returns `model_dir`."""
    model_dir.mkdir(parents=True, exist_ok=True)
    model_path = model_dir / MODEL_FILE
    tmp = model_path.with_suffix(".tmp")
    torch.jit.save(module, str(tmp))
    tmp.replace(model_path)
    now = dt.datetime.now(dt.UTC)
    manifest = {
        **manifest,
        "version": now.strftime("%Y%m%d.%H%M%S"),
        "created": now.isoformat(timespec="seconds"),
        "file": MODEL_FILE,
        "sha256": sha256_of(model_path),
    }
    (model_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return model_dir


def export_bottomup(
    net: BottomUpNet, out_dir: Path, name: str, skeleton: Skeleton, extra: dict[str, Any]
) -> Path:
    """Script a bottom-up net with its box head (maps, fields, boxes in one call) into
    `out_dir/name/` with its manifest; `extra` adds training data, recipe and scores."""
    cfg = net.config
    module = torch.jit.script(BottomUpInference(net).cpu().eval())
    return save_model(module, Path(out_dir) / name, {
        **_pose_header(
            name, cfg.name, dataclasses.asdict(cfg), skeleton, net.output_stride,
            {"scale": "x / 255 (the trunk's [0, 1])", "inside": True},
            f"any; padded inside to a multiple of {net.pad_multiple}",
        ),
        "outputs": {
            "maps": "(B, J+1, ceil(H/4), ceil(W/4)), last channel background",
            "fields": "(B, 2C, ceil(H/4), ceil(W/4)), (x, y) per limb",
            "boxes": "(B, K, 5) x1, y1, x2, y2, score in input pixels; zero rows below "
                     "box_head.min_score",
            "grid": "cell (i, j) centred on image pixel ((j+0.5)*4-0.5, (i+0.5)*4-0.5)",
        },
        "num_parameters": count_parameters(net),
        **extra,
        "box_head": {  # extra's box_head (its recommended_score_threshold, ...) added in
            "kind": "centre heatmap + box size (CenterNet), decoded inside the module",
            "max_boxes": cfg.max_boxes, "min_score": cfg.box_threshold,
            **extra.get("box_head", {}),
        },
    })  # fmt: skip
