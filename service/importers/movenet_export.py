"""MoveNet MultiPose's graph -> a checked, scripted heads module + a manifest, saved to a folder.

The trunk and the six heads are rebuilt by `tf_torch` (named trainable parameters), checked head
by head against the op-by-op NumPy interpretation of the same graph (`tf_interpret`), wrapped
as `network.movenet.MoveNetInference`, scripted and checked against the eager module. The runtime
serves no "movenet" kind yet (model_store's kinds are pose, detector, topdown), so the module is
saved as `model.pt` + `manifest.json` (kind "pose-heads") into a folder outside the store,
by default the user cache: a source for the composed model of issue 27, not a served model.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from service.errors import BoxposeError
from service.importers.human_models import FETCH, MODELS_DIR, MOVENET, PACKAGE, TarballContents
from service.importers.openpose_export import check_image, compare_script
from service.importers.tf_graphdef import Graph
from service.importers.tf_interpret import interpret
from service.importers.tf_torch import to_torch
from service.importers.tfpose import check_image as check_image_nhwc
from service.network.export import save_model
from service.network.movenet import (
    HEAD_NODES,
    HEAD_SHAPES,
    INPUT_NODE,
    PAD_MULTIPLE,
    STRIDE,
    MoveNetInference,
)
from service.skeleton import COCO18

DEFAULT_OUT = Path(os.environ.get("BOXPOSE_CACHE", Path.home() / ".cache" / "boxpose")) \
    / "models" / MOVENET  # fmt: skip
CHECK_SIZE = (96, 128)  # (H, W) of the graph check: multiples of 32, not square
TIMING_SIZE = (288, 384)  # a 4:3 photo at a long side of 384 px
LICENCE = {
    "package": {"name": "MIT", "holder": "Vladimir Mandic", "what": f"npm {PACKAGE}"},
    "model": {"name": "Apache-2.0", "holder": "Google LLC",
              "what": "MoveNet MultiPose Lightning (tfhub google/movenet/multipose/lightning/1), "
                      "per its model card"},
}  # fmt: skip
CHANGES = [
    "TensorFlow.js graph model rebuilt as a PyTorch module (torch.fx), read without TensorFlow; "
    "weights stored as float16 in the package, dequantised to float32",
    "NHWC -> NCHW; fused convolutions split into nn.Conv2d + bias + Relu/Relu6; TF's SAME "
    "padding and ResizeBilinear (half_pixel_centers) kept exactly",
    "input float32 RGB 0..255 instead of int32 (the graph's Cast is the identity); padded inside "
    f"(right, down, value 0) to a multiple of {PAD_MULTIPLE}",
    "the graph's decoding after the heads (top-6 centres, snapping, box clipping) removed: "
    "service/parsing/centres.py decodes any number of people",
]


@dataclass(frozen=True)
class MoveNetImport:
    model_dir: Path
    graph_difference: float  # max |module - interpretation| over the six heads
    script_difference: float
    ms_per_call: float  # TorchScript, 2 threads, TIMING_SIZE
    num_parameters: int


def convert(graph: Graph, check_size: tuple[int, int] = CHECK_SIZE
            ) -> tuple[MoveNetInference, dict[str, float]]:  # fmt: skip
    """The graph's trunk and heads as a module, and each head's max |module - interpretation|
    on an integer RGB check image (the graph's input is int32)."""
    if INPUT_NODE not in graph.nodes or graph.nodes[INPUT_NODE].op != "Placeholder":
        raise BoxposeError(f"the graph has no input Placeholder {INPUT_NODE!r}")
    trunk = to_torch(graph, list(HEAD_NODES.values())).eval()
    module = MoveNetInference(trunk).eval()
    image = np.rint(check_image_nhwc(*check_size))
    with torch.inference_mode():
        heads = module(torch.from_numpy(image).permute(0, 3, 1, 2))
    differences = {}
    for (head, node), ours in zip(HEAD_NODES.items(), heads, strict=True):
        reference = interpret(graph, node, image)
        got = ours.permute(0, 2, 3, 1).double().numpy()
        if got.shape != reference.shape:
            raise BoxposeError(f"{head} ({node}): the module answers {got.shape}, the graph "
                               f"{reference.shape}")  # fmt: skip
        differences[head] = float(np.abs(got - reference).max())
    return module, differences


def forward_ms(script: torch.jit.ScriptModule, size: tuple[int, int] = TIMING_SIZE,
               threads: int = 2, repeats: int = 5) -> float:  # fmt: skip
    """Median ms of one scripted forward on a (1, 3, H, W) image with `threads` threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    image = check_image(*size)
    try:
        with torch.inference_mode():
            for _ in range(3):  # the profiling executor's first calls are slow
                script(image)
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                script(image)
                times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(before)
    return float(np.median(times) * 1000)


def manifest(name: str, tarball: TarballContents, num_parameters: int,
             differences: dict[str, float], script_diff: float, ms: float
             ) -> dict[str, Any]:  # fmt: skip
    return {
        "name": name, "kind": "pose-heads", "preset": "movenet-multipose-lightning",
        "network": {"name": "movenet-multipose-lightning", "trunk": "MobileNetV2 + FPN",
                    "graph_input": INPUT_NODE, "graph_outputs": HEAD_NODES},
        "skeleton": {"joints": [j for j in COCO18.joints if j != "neck"], "order": "COCO-17"},
        "output_stride": STRIDE,
        "input": {"layout": "NCHW", "dtype": "float32", "color": "RGB", "range": [0, 255],
                  "normalisation": {"inside": True, "formula": "x * 0.0078430 - 1 (the graph's "
                                    "float16 1/127.5)"},
                  "size": f"any; padded inside (right, down, 0) to a multiple of {PAD_MULTIPLE}"},
        "outputs": {**HEAD_SHAPES,
                    "grid": "cell (i, j) + offsets (dy, dx) is input point ((j+dx)*4, (i+dy)*4)"},
        "decoding": "service.parsing.centres.decode (not in the module)",
        "licence": {**LICENCE, "stated": f"package.json: license={tarball.licence!r}"},
        "source": {"package": PACKAGE, "version": tarball.version, "fetch": FETCH,
                   "tarball": tarball.path.name, "tarball_sha256": tarball.sha256,
                   "files": [f"{MODELS_DIR}/{MOVENET}.json", f"{MODELS_DIR}/{MOVENET}.bin"]},
        "changes": CHANGES,
        "num_parameters": num_parameters,
        "validation": {"graph_max_abs_diff": max(differences.values()),
                       "graph_max_abs_diff_per_head": differences,
                       "graph_check_size": list(CHECK_SIZE),
                       "torchscript_max_abs_diff": script_diff,
                       "forward_ms": {"size": list(TIMING_SIZE), "threads": 2, "ms": ms}},
    }  # fmt: skip


def import_movenet(tarball: TarballContents, out_dir: Path = DEFAULT_OUT) -> MoveNetImport:
    """Convert, check against the graph, script, check the script, save into `out_dir`."""
    module, differences = convert(tarball.models[MOVENET])
    script = torch.jit.script(module)
    script_diff, _ = compare_script(module, script, check_image(*CHECK_SIZE))
    ms = forward_ms(script)
    params = sum(p.numel() for p in module.parameters())
    model_dir = save_model(script, Path(out_dir), manifest(
        out_dir.name, tarball, params, differences, script_diff, ms))
    return MoveNetImport(model_dir, max(differences.values()), script_diff, ms, params)
