"""MoveNet MultiPose's graph + a trained field head -> a served bottom-up `pose` model with a box
head (issue 27): `model.pt` (TorchScript) + `manifest.json` in a model_store folder.

The module (`network.movenet_fields.MoveNetFields`) answers maps (MoveNet's 17 heatmaps moved
onto the project's grid, the learnt neck, background), the learnt COCO-18 fields and MoveNet's
centre/box heads decoded to box rows: Algorithm 1 then parses in its own boxes, no detector.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from service.importers.human_models import (
    FETCH,
    MODELS_DIR,
    MOVENET,
    PACKAGE,
    TarballContents,
    find_tarball,
    missing_tarball_message,
    read_tarball,
)
from service.importers.movenet_export import CHANGES, LICENCE
from service.importers.tf_graphdef import Graph, Node
from service.importers.tf_torch import to_torch
from service.network.export import save_model
from service.network.movenet import HEAD_NODES, STRIDE
from service.network.movenet_fields import FPN_NODE, FieldHead, MoveNetFields, trunk_outputs
from service.skeleton import COCO18

WORKING_SIZE = 384  # MoveNet's serving size (long side), the size the head was trained at
BOX_THRESHOLD = 0.2  # its boxes' centre score cut: dev split served 0.342 / 0.342 / 0.341 / 0.341
# at 0.1 / 0.15 / 0.2 / 0.3, and from 0.2 no phantom people in an empty corner (the astronaut)
SEARCH_EXTENSION = 0.1  # ParserConfig.search_extension this model serves with (manifest `parser`)
CONNECTION_PEAK_WEIGHT = 1.25  # ParserConfig.connection_peak_weight, the same way
# ParserConfig.regression_reach: each box's regressed joints snapped to peaks within a quarter of
# its larger side, one more piece for Eq. 9 (dev split served 0.342 / 0.351 / 0.357 / 0.346 /
# 0.340 at 0.15 / 0.2 / 0.25 / 0.3 / 0.4, 0.341 without; coco-mini 0.239 -> 0.248-0.251 at
# 0.15-0.3)
REGRESSION_REACH = 0.25


def movenet_graph() -> tuple[Graph, TarballContents]:
    """MoveNet MultiPose's graph and the tarball it came from (human_models.find_tarball);
    exits naming how to fetch the tarball when there is none."""
    tarball = find_tarball()
    if tarball is None:
        raise SystemExit(missing_tarball_message())
    contents = read_tarball(tarball)
    return contents.models[MOVENET], contents


def feature_heads(graph: Graph, heads: tuple[str, ...] = ("regress",)) -> torch.nn.Module:
    """MoveNet's named heads as a frozen module of the FPN features (B, 24, h, w) -> the heads'
    tensors (HEAD_NODES' names, in order): the FPN node made the graph's input."""
    nodes = dict(graph.nodes)
    nodes[FPN_NODE] = Node(FPN_NODE, "Placeholder", ())
    module = to_torch(Graph(nodes, graph.constants), [HEAD_NODES[h] for h in heads]).eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return _First(module) if len(heads) == 1 else module


class _First(torch.nn.Module):
    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)[0]


def compose(graph: Graph, head: FieldHead, max_boxes: int = 32) -> torch.jit.ScriptModule:
    """MoveNet's trunk (six heads + FPN) and the head -> the scripted composed module."""
    trunk = to_torch(graph, trunk_outputs()).eval()
    for p in trunk.parameters():
        p.requires_grad_(False)
    return torch.jit.script(MoveNetFields(trunk, head.eval(), max_boxes).eval())


def manifest(name: str, tarball_name: str, tarball_sha256: str, num_parameters: int,
             extra: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    return {
        "name": name, "kind": "pose", "preset": "movenet-fields",
        "network": {"name": "movenet-multipose-lightning + field head",
                    "trunk": "MobileNetV2 + FPN (MoveNet MultiPose Lightning, frozen)",
                    "head": "service.network.movenet_fields.FieldHead (trained here)"},
        "skeleton": COCO18.to_dict(), "output_stride": STRIDE, "working_size": WORKING_SIZE,
        "input": {"layout": "NCHW", "dtype": "float32", "color": "RGB", "range": [0, 255],
                  "normalisation": {"inside": True, "formula": "x / 127.5 - 1 (MoveNet's)"},
                  "size": "any; padded inside (right, down, 0) to a multiple of 32"},
        "outputs": {
            "maps": "(B, 19, h, w): MoveNet's 17 heatmaps (its cell i is this grid's cell i), "
                    "the learnt neck, background = 1 - max",
            "fields": "(B, 34, h, w), (x, y) per COCO-18 limb (DFS order from the neck)",
            "boxes": "(B, K, 5 + 36) x1, y1, x2, y2, centre score in input pixels (MoveNet's "
                     "centre peaks, 5 x 5 local maxima, and box heads), then the COCO-18 joints "
                     "(x, y) its centre cell regresses (kpt_regress; the neck at the shoulders' "
                     "midpoint)",
            "grid": "h, w = ceil(H/32)*8, ceil(W/32)*8; cell (i, j) centred on input pixel "
                    "((j+0.5)*4-0.5, (i+0.5)*4-0.5)",
        },
        "default_detector": "",  # its own box head
        "box_head": {"kind": "MoveNet's centre heatmap + box_scale/box_offset, decoded inside",
                     "recommended_score_threshold": BOX_THRESHOLD, "max_boxes": 32},
        # its boxes are tight around MoveNet's people: Algorithm 1 in them grown 10%, not 100%
        # (dev split, served: 0.324 against 0.295 at step 2,400; docs/models.md); its joint maps
        # are surer than its fields: connections ranked by field + 1.25 x peaks (0.342)
        "parser": {"search_extension": SEARCH_EXTENSION,
                   "connection_peak_weight": CONNECTION_PEAK_WEIGHT,
                   "regression_reach": REGRESSION_REACH},
        "licence": LICENCE,
        "source": {"package": PACKAGE, "fetch": FETCH, "tarball": tarball_name,
                   "tarball_sha256": tarball_sha256,
                   "files": [f"{MODELS_DIR}/{MOVENET}.json", f"{MODELS_DIR}/{MOVENET}.bin"]},
        "changes": [*CHANGES, "a field head trained here on the frozen FPN features adds "
                    "COCO-18's direction fields and a neck map (issue 27)"],
        "num_parameters": num_parameters,
        **extra,
    }  # fmt: skip


def export(graph: Graph, head: FieldHead, out_dir: Path, name: str, tarball: tuple[str, str],
           extra: dict[str, Any]) -> Path:  # fmt: skip
    """Scripts the composed module into out_dir/name/ with its manifest; tarball = (file name,
    sha256) of the npm tarball it was read from."""
    module = compose(graph, head)
    params = sum(p.numel() for p in module.parameters())
    return save_model(module, Path(out_dir) / name,
                      manifest(name, *tarball, params, extra))  # fmt: skip
