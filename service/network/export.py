"""PoseNet -> TorchScript file + manifest.json in a model_store directory."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from service.network.net import InferenceNet, PoseNet, count_parameters
from service.skeleton import Skeleton

MODEL_FILE = "model.pt"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def export_model(
    net: PoseNet,
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
    model_dir = Path(out_dir) / name
    model_dir.mkdir(parents=True, exist_ok=True)
    module = torch.jit.script(InferenceNet(net).cpu().eval())
    model_path = model_dir / MODEL_FILE
    torch.jit.save(module, str(model_path))
    cfg = net.config
    manifest = {
        "name": name,
        "kind": "pose",
        "version": dt.datetime.now(dt.UTC).strftime("%Y%m%d.%H%M%S"),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "preset": cfg.name,
        "network": dataclasses.asdict(cfg),
        "skeleton": skeleton.to_dict(),
        "output_stride": cfg.output_stride,
        "input": {
            "layout": "NCHW", "dtype": "float32", "color": "RGB", "range": [0, 255],
            "normalisation": {"mean": list(cfg.mean), "std": list(cfg.std), "inside": True},
            "size": "any; padded inside to a multiple of the feature stride",
        },
        "outputs": {
            "maps": "(B, J+1, ceil(H/stride), ceil(W/stride)), last channel background",
            "fields": "(B, 2C, ceil(H/stride), ceil(W/stride)), (x, y) per limb",
            "grid": "cell (i, j) centred on image pixel ((j+0.5)*stride-0.5, (i+0.5)*stride-0.5)",
        },
        "num_parameters": count_parameters(net),
        "file": MODEL_FILE,
        "sha256": sha256_of(model_path),
        "trained_on": trained_on or {},
        "validation": validation or {},
        "training": training or {},
    }
    (model_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return model_dir
