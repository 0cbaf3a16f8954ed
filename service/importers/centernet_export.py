"""The package's `centernet` graph -> a person detector (kind "detector"), checked and saved.

The 80-class CenterNet (MobileNetV3 trunk, 2.0M parameters) is rebuilt by `tf_torch` up to its
two heads, with the class head's last convolution cut to its person channel (COCO class 0),
wrapped as `detector.centernet_persons.CenterNetPersons` (the graph's own peak decoding, person
class only), scripted, and checked: the person heatmap and the box sizes against the op-by-op
NumPy interpretation of the *uncut* graph (`tf_interpret`), the script against the eager module.
Saved into a model store (the user's, by default: ~/.cache/boxpose/models, never the
repository's) as `centernet-persons`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from service.errors import BoxposeError
from service.importers.human_models import FETCH, MODELS_DIR, PACKAGE, TarballContents
from service.importers.movenet_export import forward_ms
from service.importers.openpose_export import check_image, compare_script
from service.importers.tf_graphdef import Graph
from service.importers.tf_interpret import interpret
from service.importers.tf_torch import to_torch
from service.importers.tfpose import check_image as check_image_nhwc
from service.network.export import save_model

from service.detector.centernet_persons import INPUT_SIZE, STRIDE, CenterNetPersons  # isort: skip

CENTERNET = "centernet"
NAME = "centernet-persons"
INPUT_NODE = "tower_0/images"
HEATMAP_NODE = "tower_0/keypoints"  # sigmoid, 80 classes
WH_NODE = "tower_0/wh"  # left, top, right, bottom distances in input pixels
CLASS_WEIGHTS = "CenternetHead/centernet_cls_output/pointwise_weights"  # (1, 1, 128, 80)
CLASS_BIASES = "CenternetHead/centernet_cls_output/biases"  # (80,)
PERSON = 0  # COCO's first class
DEFAULT_STORE = Path(os.environ.get("BOXPOSE_CACHE", Path.home() / ".cache" / "boxpose")) \
    / "models"  # fmt: skip
RECOMMENDED_THRESHOLD = 0.2  # dev split: served AP 0.312 at 0.2, 0.280 at 0.3, 0.255 at 0.4
LICENCE = {
    "package": {"name": "MIT", "holder": "Vladimir Mandic", "what": f"npm {PACKAGE}"},
    "model": {"name": "not stated in the package",
              "what": "mb3-centernet (package/models/README.md); its upstream training "
                      "repository is not named in the package"},
}  # fmt: skip
CHANGES = [
    "TensorFlow.js graph model rebuilt as a PyTorch module (torch.fx), read without TensorFlow; "
    "weights stored as float16 in the package, dequantised to float32",
    "the class head's last 1 x 1 convolution cut to the person channel (79 classes dropped)",
    "NHWC -> NCHW; input any (B, 3, H, W) RGB 0..255, stretched inside to 512 x 512 (the "
    "graph's resizes have constant sizes)",
    "the graph's decoding (top 100 peaks of all classes) replaced by the same decoding of the "
    "person heatmap alone, boxes stretched back to the input",
]


@dataclass(frozen=True)
class DetectorImport:
    model_dir: Path
    graph_difference: dict[str, float]  # max |module - interpretation| per head
    script_difference: float
    ms_per_call: float  # TorchScript, 2 threads, an 848 x 480 photo
    num_parameters: int


def person_graph(graph: Graph) -> Graph:
    """The graph with the class head cut to its person channel."""
    for name in (INPUT_NODE, HEATMAP_NODE, WH_NODE):
        if name not in graph.nodes:
            raise BoxposeError(f"{CENTERNET}: the graph has no node {name!r}")
    constants = dict(graph.constants)
    for name in (CLASS_WEIGHTS, CLASS_BIASES):
        if name not in constants or constants[name].shape[-1] != 80:
            raise BoxposeError(f"{CENTERNET}: {name!r} is not an 80-class constant")
        constants[name] = np.ascontiguousarray(constants[name][..., PERSON:PERSON + 1])
    return Graph(graph.nodes, constants)


def convert(graph: Graph) -> tuple[CenterNetPersons, dict[str, float]]:
    """The person detector and max |ours - the uncut graph interpreted op by op| per head, on a
    512 x 512 integer RGB check image."""
    trunk = to_torch(person_graph(graph), [HEATMAP_NODE, WH_NODE]).eval()
    image = np.rint(check_image_nhwc(INPUT_SIZE, INPUT_SIZE))
    with torch.inference_mode():
        heads = trunk(torch.from_numpy(image).float().permute(0, 3, 1, 2))
    references = {"heatmap": interpret(graph, HEATMAP_NODE, image)[..., PERSON:PERSON + 1],
                  "wh": interpret(graph, WH_NODE, image)}  # fmt: skip
    differences = {}
    for (head, reference), ours in zip(references.items(), heads, strict=True):
        got = ours.permute(0, 2, 3, 1).double().numpy()
        if got.shape != reference.shape:
            raise BoxposeError(f"{CENTERNET} {head}: the module answers {got.shape}, the graph "
                               f"{reference.shape}")  # fmt: skip
        differences[head] = float(np.abs(got - reference).max())
    return CenterNetPersons(trunk).eval(), differences


def manifest(tarball: TarballContents, num_parameters: int, differences: dict[str, float],
             script_diff: float, ms: float) -> dict[str, Any]:  # fmt: skip
    return {
        "name": NAME, "kind": "detector",
        "network": "mb3-centernet: MobileNetV3 + CenterNet head, person class "
                   "(service.detector.centernet_persons)",
        "licence": {**LICENCE, "stated": f"package.json: license={tarball.licence!r}"},
        "source": {"package": PACKAGE, "version": tarball.version, "fetch": FETCH,
                   "tarball": tarball.path.name, "tarball_sha256": tarball.sha256,
                   "files": [f"{MODELS_DIR}/{CENTERNET}.json", f"{MODELS_DIR}/{CENTERNET}.bin"]},
        "changes": CHANGES,
        "input": {"layout": "NCHW", "dtype": "float32", "color": "RGB", "range": [0, 255],
                  "size": "any H, W >= 1; stretched inside to 512 x 512"},
        "output": {"shape": "(B, K, 5)", "K": 32, "columns": ["x1", "y1", "x2", "y2", "score"],
                   "coordinates": "input pixels, clipped to the image",
                   "order": "score descending",
                   "score": "person heatmap peak (sigmoid); 3 x 3 max-pool peaks, no NMS"},
        "internal": {"resize": "stretch to 512 x 512, bilinear", "stride": STRIDE,
                     "score_threshold": 0.0},
        "recommended_score_threshold": RECOMMENDED_THRESHOLD,
        "num_parameters": num_parameters,
        "validation": {"graph_max_abs_diff_per_head": differences,
                       "graph_check_size": [INPUT_SIZE, INPUT_SIZE],
                       "torchscript_max_abs_diff": script_diff,
                       "forward_ms": {"size": [480, 848], "threads": 2, "ms": ms}},
    }  # fmt: skip


def import_centernet(tarball: TarballContents, store: Path = DEFAULT_STORE,
                     name: str = NAME) -> DetectorImport:  # fmt: skip
    """Convert, check against the graph, script, check the script, save into store/name."""
    if CENTERNET not in tarball.models:
        raise BoxposeError(f"{tarball.path.name}: {CENTERNET} was not read from it")
    module, differences = convert(tarball.models[CENTERNET])
    script = torch.jit.script(module)
    image = check_image(480, 848)
    script_diff, _ = compare_script(module, script, image)
    ms = forward_ms(script, (480, 848))
    params = sum(p.numel() for p in module.parameters())
    model_dir = save_model(script, Path(store) / name,
                           manifest(tarball, params, differences, script_diff, ms))  # fmt: skip
    return DetectorImport(model_dir, differences, script_diff, ms, params)
