"""BlazePose .tflite files -> weights for our PyTorch modules; the TFLite interpreter check."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from service.errors import BoxposeError
from service.importers.tflite_graph import TfliteGraph
from service.network.blazeblocks import RELU6, Conv, ConvWeights, assign_weights

CONV_KINDS = ("CONV_2D", "DEPTHWISE_CONV_2D")


def conv_weights(graph: TfliteGraph) -> list[ConvWeights]:
    """Every convolution of the graph, in execution order, with dense float32 weights."""
    out = []
    for op in graph.ops:
        if op.kind not in CONV_KINDS:
            continue
        if op.options.get("DilationHFactor", 1) != 1 or op.options.get("DepthMultiplier", 1) > 1:
            raise BoxposeError(f"op {op.index}: dilated or multiplied convolutions unsupported")
        out.append(ConvWeights(
            depthwise=op.kind == "DEPTHWISE_CONV_2D",
            weight=graph.constant(op.inputs[1]).astype(np.float32),
            bias=graph.constant(op.inputs[2]).astype(np.float32),
            stride=int(op.options["StrideH"]),
            relu6=op.options["FusedActivationFunction"] == RELU6,
        ))
    return out


def load_tflite_weights(layers: list[Conv], path: str | Path) -> None:
    """Copy the convolutions of the .tflite file at `path` onto `layers` (same order)."""
    try:
        assign_weights(layers, conv_weights(TfliteGraph.load(path)))
    except ValueError as exc:
        raise BoxposeError(f"{path}: does not match the rebuilt network: {exc}") from exc


def run_interpreter(path: str | Path, image_nhwc: np.ndarray) -> dict[str, np.ndarray]:
    """Run the .tflite file with the TFLite interpreter (ai-edge-litert) on one (1, H, W, 3)
    float32 input; returns every output by its tensor name."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ModuleNotFoundError as exc:
        raise BoxposeError("the TFLite check needs ai-edge-litert: "
                           "pip install -e '.[import]'") from exc
    interp = Interpreter(model_path=str(path))
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], image_nhwc.astype(np.float32))
    interp.invoke()
    return {d["name"]: interp.get_tensor(d["index"]) for d in interp.get_output_details()}


def fixed_inputs(size: int, low: float, high: float) -> list[np.ndarray]:
    """Two deterministic (1, size, size, 3) float32 images in [low, high]: uniform noise (seed 0)
    and a smooth colour pattern (a photo-like input without shipping a photo)."""
    noise = np.random.default_rng(0).random((1, size, size, 3), dtype=np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    smooth = np.stack([0.5 + 0.5 * np.sin(6 * xx + 2 * yy), 0.5 + 0.5 * np.cos(5 * yy - 3 * xx),
                       (xx + yy) / 2], axis=-1)[None]
    return [low + (high - low) * im for im in (noise, smooth.astype(np.float32))]


def max_differences(outputs: list[dict[str, np.ndarray]],
                    references: list[dict[str, np.ndarray]]) -> dict[str, float]:
    """Per output name: the largest |ours - interpreter| over all inputs (same shapes)."""
    diffs: dict[str, float] = {}
    for ours, ref in zip(outputs, references, strict=True):
        for name, value in ref.items():
            if ours[name].shape != value.shape:
                raise BoxposeError(f"{name}: shape {ours[name].shape} vs TFLite {value.shape}")
            diffs[name] = max(diffs.get(name, 0.0), float(np.abs(ours[name] - value).max()))
    return diffs
