"""DetectorNet -> TorchScript `InferenceDetector` + manifest.json (kind "detector") in a store.

The manifest spells out the input/output contract so that a detector exported elsewhere can be
dropped in: any TorchScript module that follows it and a manifest with kind, file and sha256.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from service.detector.decode import InferenceDetector
from service.detector.net import DetectorNet, count_parameters
from service.network.export import save_model


def contract(net: DetectorNet) -> dict[str, Any]:
    """The input/output contract of the exported module, as written into the manifest."""
    cfg = net.config
    return {
        "input": {
            "layout": "NCHW", "dtype": "float32", "color": "RGB", "range": [0, 255],
            "size": "any H, W >= 1",
            "normalisation": {"mean": list(cfg.mean), "std": list(cfg.std), "inside": True},
        },
        "output": {
            "shape": "(B, K, 5)", "K": cfg.max_detections,
            "columns": ["x1", "y1", "x2", "y2", "score"],
            "coordinates": "input pixels, continuous (pixel i spans [i, i+1)), clipped to image",
            "order": "score descending within each image",
            "padding": "rows with score 0 (all five values 0) after the detections",
            "score": "person-centre confidence in 0..1",
        },
        "internal": {
            "resize": f"bilinear (antialiased) so the long side is {cfg.input_long_side}, "
                      "aspect ratio kept",
            "pad": f"right/bottom to a multiple of {cfg.pad_multiple}",
            "input_long_side": cfg.input_long_side, "output_stride": cfg.output_stride,
            "decode": "sigmoid heatmap, 3x3 max-pool peaks, top-K, log-size and offset heads",
            "score_threshold": cfg.score_threshold,
        },
    }  # fmt: skip


def export_detector(
    net: DetectorNet,
    out_dir: Path,
    name: str,
    trained_on: dict[str, Any] | None = None,
    validation: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
) -> Path:
    """Script the detector into `out_dir/name/model.pt`, write its manifest; return the dir."""
    was_training = net.training
    module = torch.jit.script(InferenceDetector(net).cpu().eval())
    net.train(was_training)
    return save_model(module, Path(out_dir) / name, {
        "name": name,
        "kind": "detector",
        "preset": net.config.name,
        "network": dataclasses.asdict(net.config),
        **contract(net),
        # Boxes with a lower score should be dropped by users; tuned on validation (best F1 at
        # IoU 0.5) when known, else a generic default.
        "recommended_score_threshold": float((validation or {}).get("f1_threshold", 0.3)),
        "num_parameters": count_parameters(net),
        "trained_on": trained_on or {},
        "validation": validation or {},
        "training": training or {},
    })  # fmt: skip


def reexport_detector(
    checkpoint: Path, source: dict[str, Any], out_dir: Path, name: str, input_long_side: int,
    val_dir: Path | None = None, command: str = "",
) -> Path:
    """A detector training checkpoint -> the same weights exported with another working
    resolution (the long side its module resizes images to). `source` is the manifest of the
    model the checkpoint was exported as: its training record and data sets are carried over.
    With `val_dir`, the box AP is measured again at the new resolution (and the recommended
    score threshold with it); without, the manifest records no validation."""
    from service.detector.config import DETECTOR_PRESETS
    from service.detector.data import read_coco_boxes
    from service.detector.evaluate import evaluate_detector

    if input_long_side < 32:
        raise ValueError(f"input_long_side {input_long_side} is too small (>= 32)")
    from service.training.checkpoint import extra_of, read_checkpoint

    state = read_checkpoint(checkpoint)
    preset = DETECTOR_PRESETS[extra_of(state).get("preset", source.get("preset", "lite"))]
    net = DetectorNet(dataclasses.replace(preset, input_long_side=input_long_side))
    net.load_state_dict(state["model"])
    net.eval()
    validation: dict[str, Any] = {}
    if val_dir is not None:
        ap = evaluate_detector(InferenceDetector(net).eval(), read_coco_boxes(Path(val_dir)))
        validation = {**ap.as_dict(), "evaluator": "pycocotools COCOeval iouType bbox",
                      "dataset": str(val_dir)}  # fmt: skip
    training = {
        **source.get("training", {}),
        "reexport": {"checkpoint": str(checkpoint), "input_long_side": input_long_side,
                     "trained_long_side": preset.input_long_side, "command": command},
    }  # fmt: skip
    return export_detector(net, out_dir, name, source.get("trained_on", {}), validation, training)
