"""Honest stand-in models and a scene of known geometry, for the runtime and API tests.

`FixedMaps` is a TorchScript pose net stand-in whose maps and fields are the targets (Eq. 1-4) of
the scene's known people, so the real parser finds them; `FixedBoxes` is a detector stand-in
returning fixed rows. `write_model` puts either into a model store with a manifest.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from PIL import Image

from service.runtime.model_store import sha256_of
from service.skeleton import AIC14
from service.targets import TargetConfig
from service.types import Box

HEIGHT, WIDTH, STRIDE = 240, 320, 4


@dataclass(frozen=True)
class SceneData:
    image: np.ndarray  # (H, W, 3) uint8 RGB
    keypoints: np.ndarray  # (N, 14, 3)
    boxes: list[list[float]]  # tight boxes with a margin, per person

    def png(self) -> bytes:
        return encode(self.image, "PNG")

    def jpeg(self) -> bytes:
        return encode(self.image, "JPEG")


def encode(image: np.ndarray, fmt: str, **kwargs: Any) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def stick_person(cx: float, top: float, h: float) -> np.ndarray:
    """AIC-14 keypoints (14, 3) of a person facing the camera (their right = image left)."""
    rel = {
        "head_top": (0, 0), "neck": (0, 0.18), "right_shoulder": (-0.12, 0.2),
        "left_shoulder": (0.12, 0.2), "right_elbow": (-0.17, 0.36), "left_elbow": (0.17, 0.36),
        "right_wrist": (-0.2, 0.5), "left_wrist": (0.2, 0.5), "right_hip": (-0.07, 0.53),
        "left_hip": (0.07, 0.53), "right_knee": (-0.09, 0.76), "left_knee": (0.09, 0.76),
        "right_ankle": (-0.1, 0.97), "left_ankle": (0.1, 0.97),
    }  # fmt: skip
    kp = np.zeros((AIC14.num_joints, 3))
    for name, (dx, dy) in rel.items():
        kp[AIC14.joint(name)] = (cx + dx * h, top + dy * h, 2)
    return kp


def make_scene() -> SceneData:
    rng = np.random.default_rng(0)
    image = (rng.normal(150, 12, (HEIGHT, WIDTH, 3))).clip(0, 255).astype(np.uint8)
    people = np.stack([stick_person(80.0, 30.0, 190.0), stick_person(235.0, 40.0, 180.0)])
    for kp, colour in zip(people, ((200, 40, 40), (40, 60, 200)), strict=True):
        for a, b in AIC14.limbs:
            pa, pb = tuple(int(v) for v in kp[a, :2]), tuple(int(v) for v in kp[b, :2])
            cv2.line(image, pa, pb, colour, 5, cv2.LINE_AA)
        cv2.circle(image, tuple(int(v) for v in kp[AIC14.joint("head_top"), :2]), 9, colour, -1)
    boxes = []
    for kp in people:
        x1, y1 = kp[:, :2].min(axis=0) - 8
        x2, y2 = kp[:, :2].max(axis=0) + 8
        boxes.append([float(x1), float(y1), float(x2), float(y2)])
    return SceneData(image, people, boxes)


class FixedMaps(torch.nn.Module):
    """A pose net stand-in: the scene's target maps and fields, whatever the input shows.

    Inputs of the scene's size get them exactly; other sizes get them resized to their grid."""

    def __init__(self, maps: torch.Tensor, fields: torch.Tensor, stride: int) -> None:
        super().__init__()
        self.maps = torch.nn.Parameter(maps[None], requires_grad=False)  # (1, J+1, h, w)
        self.fields = torch.nn.Parameter(fields[None], requires_grad=False)  # (1, 2C, h, w)
        self.stride = stride

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, h, w = x.shape[0], x.shape[2], x.shape[3]
        gh, gw = (h + self.stride - 1) // self.stride, (w + self.stride - 1) // self.stride
        maps: torch.Tensor = self.maps
        fields: torch.Tensor = self.fields
        if maps.shape[2] != gh or maps.shape[3] != gw:
            maps = torch.nn.functional.interpolate(maps, size=(gh, gw), mode="bilinear")
            fields = torch.nn.functional.interpolate(fields, size=(gh, gw), mode="bilinear")
        return maps.expand(b, -1, -1, -1).to(x.dtype), fields.expand(b, -1, -1, -1).to(x.dtype)


class FixedBoxes(torch.nn.Module):
    """A detector stand-in: the same rows [x1, y1, x2, y2, score] for every image."""

    def __init__(self, rows: torch.Tensor) -> None:
        super().__init__()
        self.rows = torch.nn.Parameter(rows[None], requires_grad=False)  # (1, K, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rows.expand(x.shape[0], -1, -1).to(x.dtype)  # (B, K, 5)


def write_model(store: Path, name: str, module: torch.nn.Module, kind: str) -> None:
    model_dir = store / name
    model_dir.mkdir(parents=True, exist_ok=True)
    torch.jit.save(torch.jit.script(module.eval()), str(model_dir / "model.pt"))
    manifest: dict[str, Any] = {
        "name": name, "kind": kind, "version": "test-1", "file": "model.pt",
        "sha256": sha256_of(model_dir / "model.pt"),
        "output_stride": STRIDE if kind == "pose" else 1,
    }  # fmt: skip
    if kind == "pose":
        manifest["skeleton"] = AIC14.to_dict()
    (model_dir / "manifest.json").write_text(json.dumps(manifest))


def encode_targets(scene: SceneData) -> tuple[np.ndarray, np.ndarray]:
    from service.targets import encode as encode_maps

    t = encode_maps(scene.keypoints, AIC14, HEIGHT, WIDTH, TargetConfig(stride=STRIDE))
    return t.maps, t.fields


def box(coords: list[float], source: str = "client", score: float = 1.0) -> Box:
    return Box(coords[0], coords[1], coords[2], coords[3], score, source)


def make_store(root: Path, scene: SceneData) -> Path:
    """pose-fixed (the scene's targets), detector-fixed (its boxes), pose-tiny (untrained)."""
    from service.network import build_network, export_model

    maps, fields = (torch.from_numpy(a) for a in encode_targets(scene))
    write_model(root, "pose-fixed", FixedMaps(maps, fields, STRIDE), "pose")
    rows = torch.tensor([[*box, 0.9 - 0.1 * i] for i, box in enumerate(scene.boxes)])
    rows = torch.cat([rows, torch.zeros(3, 5)])  # padding rows, score 0
    write_model(root, "detector-fixed", FixedBoxes(rows.float()), "detector")
    torch.manual_seed(0)  # the untrained net's weights, the same every run
    export_model(build_network("tiny", AIC14), root, "pose-tiny", AIC14)
    return root
