"""`body_pose_model.pth` -> model_store/<name>/: TorchScript + a manifest saying what it is.

The weights are loaded unchanged (float32) into `OpenPoseNet`, whose inference module does
OpenPose's input normalisation inside and answers the COCO-18 skeleton's maps and fields at
stride 8; the script is checked against the eager module. The manifest records the file's
name and sha256 (never the file), OpenPose's licence, its channel layout and how it was mapped.
"""

from __future__ import annotations

import dataclasses
import re
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from service.errors import BoxposeError
from service.importers.openpose import load_openpose
from service.network.export import save_model
from service.network.openpose import (
    NORMALISATION,
    OPENPOSE_VGG19,
    OpenPoseConfig,
    OpenPoseInference,
    OpenPoseNet,
)
from service.network.openpose_layout import describe
from service.runtime.model_store import sha256_of
from service.skeleton import COCO18

DEFAULT_NAME = "openpose-coco"
# OpenPose runs its net on images 368 px high (its demo's -1 x 368; pytorch-openpose's boxsize):
# a 4:3 photo's long side is then 491, rounded up to a multiple of 8.
WORKING_SIZE = 496
LICENCE = {
    "name": "OpenPose licence: academic or non-profit organization noncommercial research use "
            "only",
    "holder": "Carnegie Mellon University",
    "url": "https://github.com/CMU-Perceptual-Computing-Lab/openpose/blob/master/LICENSE",
    "note": "the user's own copy of the weights; boxpose neither ships nor downloads them",
}  # fmt: skip
CHANGES = [
    "weights unchanged (float32 copies); the file's flat names given their blocks",
    "no ReLU after the last heatmap prediction (Mconv7_stage6_L2), as in OpenPose's Caffe "
    "model (some PyTorch ports apply one: their negative heatmap values read 0)",
    "BGR order and x / 256 - 0.5 done inside: the module takes RGB 0..255",
    "heatmaps reordered to the coco18 skeleton's joints (background last); PAFs to its 17 "
    "limbs, (x, y) each; the two ear-shoulder PAFs (loops in the tree) dropped",
]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# The outputs of a network answering OpenPose's COCO layout mapped onto coco18, at stride 8.
COCO18_STRIDE8_OUTPUTS = {
    "maps": "(B, 19, ceil(H/8), ceil(W/8)): coco18 joints in skeleton order, background last; "
            "stride 8, not upsampled",
    "fields": "(B, 34, ceil(H/8), ceil(W/8)): (x, y) per skeleton limb, parent to child",
    "grid": "cell (i, j) centred on image pixel ((j+0.5)*8-0.5, (i+0.5)*8-0.5)",
}  # fmt: skip


def check_name(name: str) -> None:
    """Refuse a store name that is not a plain folder name."""
    if not _NAME.match(name) or name in (".", ".."):
        raise BoxposeError(f"model name {name!r}: letters, digits, '.', '_' and '-' only")


@dataclass(frozen=True)
class OpenPoseImport:
    model_dir: Path
    key_layout: str  # "flat" (the distributed file) or "blocks"
    script_difference: float  # max |TorchScript - eager| on the check image
    ms_per_call: float  # TorchScript, one thread, on the check image
    check_size: tuple[int, int]  # (H, W) of the check image


def check_image(height: int, width: int) -> torch.Tensor:
    """A smooth deterministic colour pattern (1, 3, H, W) in 0..255: a photo-like input."""
    yy = torch.linspace(0, 1, height).view(-1, 1)
    xx = torch.linspace(0, 1, width).view(1, -1)
    planes = [0.5 + 0.5 * torch.sin(6 * xx + 2 * yy), 0.5 + 0.5 * torch.cos(5 * yy - 3 * xx),
              (xx + yy) / 2]  # fmt: skip
    return 255.0 * torch.stack(planes)[None]


def compare_script(module: torch.nn.Module, script: torch.jit.ScriptModule,
                   image: torch.Tensor) -> tuple[float, float]:
    """(max |eager - script| over both outputs, median ms of a scripted call on one thread)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            eager, scripted = module(image), script(image)
            times = []
            for _ in range(3):
                start = time.perf_counter()
                script(image)
                times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    diff = max(float((a - b).abs().max()) for a, b in zip(eager, scripted, strict=True))
    return diff, statistics.median(times) * 1000


def manifest(net: OpenPoseNet, name: str, source: dict[str, object], diff: float
             ) -> dict[str, object]:  # fmt: skip
    cfg = net.config
    return {
        "name": name, "kind": "pose", "preset": cfg.name, "network": dataclasses.asdict(cfg),
        "skeleton": COCO18.to_dict(), "output_stride": cfg.stride,
        "input": {"layout": "NCHW", "dtype": "float32", "color": "RGB", "range": [0, 255],
                  "normalisation": NORMALISATION,
                  "size": f"any; padded inside (right, down) to a multiple of {cfg.stride}"},
        "outputs": COCO18_STRIDE8_OUTPUTS,
        "openpose": describe(COCO18), "licence": LICENCE, "source": source, "changes": CHANGES,
        "working_size": WORKING_SIZE,
        "num_parameters": sum(p.numel() for p in net.parameters()),
        "trained_on": {"data": "COCO keypoints training set (OpenPose: Cao et al., CVPR 2017)"},
        "validation": {"torchscript_max_abs_diff": diff},
    }  # fmt: skip


def import_openpose(
    path: Path, store: Path, name: str = DEFAULT_NAME, cfg: OpenPoseConfig = OPENPOSE_VGG19,
    check_size: tuple[int, int] = (64, 96),
) -> OpenPoseImport:
    """Check and load the file, script the inference module, compare it with the eager one on
    a `check_size` image, save both files into `store/name/`."""
    check_name(name)
    net, layout = load_openpose(Path(path), cfg)
    module = OpenPoseInference(net).eval()
    script = torch.jit.script(module)
    diff, ms = compare_script(module, script, check_image(*check_size))
    source = {"file": Path(path).name, "sha256": sha256_of(Path(path)),
              "bytes": Path(path).stat().st_size, "key_layout": layout}  # fmt: skip
    model_dir = save_model(script, Path(store) / name, manifest(net, name, source, diff))
    return OpenPoseImport(model_dir, layout, diff, ms, check_size)
