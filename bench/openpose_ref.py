"""OpenPose's published body parser (the `controlnet_aux` package), run on given maps.

The package is installed by `make bench-env` into its own environment (`bench/.venv`, which
sees the project's packages through a .pth file; `pip install --no-deps controlnet_aux`), never
into the project's, and its code is never copied here. Its `open_pose.body.Body.__call__` takes
an image, runs its network once (single search scale 0.5 of a 368-px box: the network sees the
image scaled so that its height is 184 px, padded to a multiple of 8), upsamples the stride-8
outputs back to the image, then finds peaks, scores limbs and assembles people. Here the network
is a stand-in that returns the oracle maps of the scene in its layout (COCO-18 joints + background,
38 field channels), so the parser is what is timed.

Layout (OpenPose's body COCO-18): joints nose, neck, r/l shoulder, elbow, wrist, r/l hip, knee,
ankle, eyes, ears; AIC-14's head top fills the nose slot, the eyes and ears stay empty.
"""

from __future__ import annotations

import importlib
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from service.skeleton import AIC14
from service.targets.encode import TargetConfig, encode

OPENPOSE_HEIGHT = 0.5 * 368  # their scale_search [0.5] x boxsize 368: network input height
OPENPOSE_STRIDE = 8
COCO18_JOINTS = 18
# AIC-14 joint -> COCO-18 slot (right/left shoulder, elbow, wrist, hip, knee, ankle; head
# top -> nose; neck).
AIC_TO_COCO = (2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 0, 1)
# COCO-18 limb (joint a, joint b) -> its (x, y) channels in the 38-channel field output: the
# published layout of OpenPose's COCO body model (the 13 limbs AIC-14 also has).
COCO_FIELD_CHANNELS = {
    (1, 2): (12, 13), (1, 5): (20, 21), (2, 3): (14, 15), (3, 4): (16, 17), (5, 6): (22, 23),
    (6, 7): (24, 25), (1, 8): (0, 1), (8, 9): (2, 3), (9, 10): (4, 5), (1, 11): (6, 7),
    (11, 12): (8, 9), (12, 13): (10, 11), (1, 0): (28, 29),
}  # fmt: skip
FIELD_CHANNELS = 38


def load_body_class() -> type:
    """`controlnet_aux.open_pose.body.Body`, imported without the package's `__init__` (which
    imports every annotator and their dependencies); raises ImportError when not installed."""
    if "controlnet_aux.open_pose.body" in sys.modules:
        return sys.modules["controlnet_aux.open_pose.body"].Body  # type: ignore[no-any-return]
    spec = importlib.util.find_spec("controlnet_aux")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("controlnet_aux is not installed: run `make bench-env` and use "
                          "bench/.venv/bin/python")  # fmt: skip
    root = Path(list(spec.submodule_search_locations)[0])
    for name, path in (("controlnet_aux", root), ("controlnet_aux.open_pose", root / "open_pose")):
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = [str(path)]
            sys.modules[name] = package
    importlib.import_module("controlnet_aux.open_pose.util")  # util first: body <-> util cycle
    return importlib.import_module("controlnet_aux.open_pose.body").Body  # type: ignore[no-any-return]


class StandInNet(torch.nn.Module):
    """Returns preset outputs (paf (1, 38, h, w), heatmaps (1, 19, h, w)) for an input
    (1, 3, 8h, 8w); the parameter only tells `Body` the device."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.outputs: tuple[torch.Tensor, torch.Tensor] | None = None

    def forward(self, data: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        assert self.outputs is not None, "set the outputs before calling"
        paf, heat = self.outputs
        expected = (data.shape[2] // OPENPOSE_STRIDE, data.shape[3] // OPENPOSE_STRIDE)
        if tuple(heat.shape[2:]) != expected:
            raise ValueError(f"preset maps {tuple(heat.shape[2:])} for input {tuple(data.shape)}")
        return paf, heat


@dataclass(frozen=True)
class OpenPoseInput:
    """What their network would return for one scene, and the image it is asked about."""

    image: np.ndarray  # (H, W, 3) uint8, blank: only its size matters to the stand-in
    paf: torch.Tensor  # (1, 38, h, w)
    heat: torch.Tensor  # (1, 19, h, w)


def openpose_input(keypoints: np.ndarray, height: int, width: int, noise: float,
                   rng: np.random.Generator) -> OpenPoseInput:
    """(N, 14, 3) AIC-14 keypoints in an (H, W) image -> the oracle outputs at stride 8 of the
    image their code feeds the network (scaled to 184 px high by cv2.resize, padded right and
    down to a multiple of 8), plus Gaussian noise of std `noise`."""
    scale = OPENPOSE_HEIGHT / height
    h_in, w_in = int(height * scale), int(width * scale)  # as their resize rounds
    sx, sy = w_in / width, h_in / height
    pad_h, pad_w = -(-h_in // OPENPOSE_STRIDE) * 8, -(-w_in // OPENPOSE_STRIDE) * 8
    kp = np.asarray(keypoints, np.float64).copy()
    kp[..., 0] = (kp[..., 0] + 0.5) * sx - 0.5  # pixel centres, as cv2.resize maps them
    kp[..., 1] = (kp[..., 1] + 0.5) * sy - 0.5
    targets = encode(kp, AIC14, pad_h, pad_w, TargetConfig(stride=8, sigma=7.0, delta=8.0))
    maps = targets.maps + rng.normal(0, noise, targets.maps.shape).astype(np.float32)
    fields = targets.fields + rng.normal(0, noise, targets.fields.shape).astype(np.float32)
    grid = maps.shape[1:]
    heat = np.zeros((COCO18_JOINTS + 1, *grid), np.float32)
    heat[list(AIC_TO_COCO)] = maps[:AIC14.num_joints]
    heat[COCO18_JOINTS] = maps[-1]
    paf = np.zeros((FIELD_CHANNELS, *grid), np.float32)
    for c, (a, b) in enumerate(AIC14.limbs):
        cx, cy = COCO_FIELD_CHANNELS[(AIC_TO_COCO[a], AIC_TO_COCO[b])]
        paf[cx], paf[cy] = fields[2 * c], fields[2 * c + 1]
    image = np.zeros((height, width, 3), np.uint8)
    return OpenPoseInput(image, torch.from_numpy(paf)[None], torch.from_numpy(heat)[None])


def openpose_parser() -> tuple[Any, StandInNet]:
    """A `Body` whose network is the stand-in (no weights are loaded)."""
    body_class = load_body_class()
    body = body_class.__new__(body_class)  # skips __init__, which loads the real weights
    net = StandInNet().eval()
    body.model = net
    return body, net


def to_aic14(candidate: np.ndarray, subset: np.ndarray) -> np.ndarray:
    """Their output (candidate (K, 4): x, y, score, id; subset (P, 20): candidate index per
    COCO-18 joint, -1 = none, then total score and count) -> (P, 14, 3) x, y, score."""
    poses = np.zeros((len(subset), AIC14.num_joints, 3))
    if len(subset) == 0:
        return poses
    index = np.asarray(subset, np.float64)[:, list(AIC_TO_COCO)].astype(int)  # (P, 14)
    found = index >= 0
    rows = np.asarray(candidate, np.float64)[np.where(found, index, 0)]  # (P, 14, 4)
    poses[..., :3] = np.where(found[..., None], rows[..., :3], 0.0)
    poses[..., 2] = np.where(found, np.maximum(poses[..., 2], 1e-6), 0.0)
    return poses
