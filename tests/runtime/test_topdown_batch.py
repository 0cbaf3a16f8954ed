"""The top-down pipeline on a GPU-sized batch: several images, more crops than one model call
takes (`CropSpec.max_crops`), client and detector boxes mixed; each image's poses equal those of
the image alone, one crop per call, and lie on the marker in each box.

The landmark model is a stand-in: every landmark at the centroid of its crop's red marker, pose
flag 1 where a marker shows (0 elsewhere: no person).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch
from runtime_fakes import FixedBoxes, write_model

from service.config import GPU_MAX_BATCH
from service.runtime.factory import load_pipeline
from service.runtime.manifest import CropSpec
from service.runtime.protocol import ImageInput
from service.skeleton import AIC14
from service.types import Box, BoxSource, Pose

LANDMARKS = 39  # BlazePose's rows, as the real model answers
CROP = 64  # crop side (px) of the stand-in: small, the geometry is the real one
SPACING = 70  # px between box centres; a crop's side is at most 1.25 x 50 px
DETECTED = [[25.0, 20.0, 55.0, 70.0], [95.0, 30.0, 125.0, 80.0], [165.0, 15.0, 195.0, 65.0]]


class MarkerLandmarks(torch.nn.Module):
    """(N, 3, S, S) RGB 0..255 crops -> landmarks (N, 39, 5) in crop pixels (all at the red
    marker's centroid; visibility and presence 1), pose flags (N,)."""

    def __init__(self) -> None:
        super().__init__()
        self.landmarks = LANDMARKS

    def forward(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = crops.float()
        red = torch.relu(x[:, 0] - x[:, 1]) / 255.0  # (N, S, S): the marker is pure red
        mass = red.sum(dim=(1, 2))  # (N,)
        at = torch.arange(x.shape[2], dtype=x.dtype, device=x.device)  # crop pixel centres
        cx = (red.sum(dim=1) * at).sum(dim=1) / mass.clamp_min(1e-6)  # (N,)
        cy = (red.sum(dim=2) * at).sum(dim=1) / mass.clamp_min(1e-6)
        rows = torch.stack([cx, cy, torch.zeros_like(cx), torch.ones_like(cx),
                            torch.ones_like(cx)], dim=1)  # (N, 5)
        landmarks = rows[:, None, :].expand(-1, self.landmarks, -1).contiguous()  # (N, 39, 5)
        return landmarks, (mass > 2.0).to(x.dtype)


def write_topdown(store: Path, name: str, crop: dict[str, Any]) -> None:
    model_dir = store / name
    model_dir.mkdir(parents=True)
    torch.jit.save(torch.jit.script(MarkerLandmarks().eval()), str(model_dir / "model.pt"))
    manifest = {
        "name": name, "kind": "topdown", "version": "test-1", "file": "model.pt",
        "sha256": hashlib.sha256((model_dir / "model.pt").read_bytes()).hexdigest(),
        "skeleton": AIC14.to_dict(), "crop": {"size": CROP, **crop},
    }  # fmt: skip
    (model_dir / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """topdown-marker (the default chunk), topdown-single (one crop per call), detector-fixed
    (the DETECTED boxes in every image)."""
    root = tmp_path_factory.mktemp("topdown_store")
    write_topdown(root, "topdown-marker", {})
    write_topdown(root, "topdown-single", {"max_crops": 1})
    rows = torch.tensor([[*box, 0.9] for box in DETECTED] + [[0.0] * 5] * 2)
    write_model(root, "detector-fixed", FixedBoxes(rows), "detector")
    return root


def scene(index: int) -> tuple[np.ndarray, list[Box] | None, list[tuple[float, float]]]:
    """Image `index` of the batch: a grey image of its own size, its client boxes in a row
    (None on every third image: the detector's), and a red marker in each box but the last
    client box (nobody there). Boxes lie SPACING apart: no crop reaches another's marker."""
    rng = np.random.default_rng(index)
    height, width = 100 + 6 * index, 440 + 8 * index
    grey = rng.integers(90, 160, (height, width), dtype=np.uint8)
    image = np.repeat(grey[:, :, None], 3, axis=2)  # (H, W, 3): red minus green 0 but markers
    if index % 3 == 2:
        boxes, coords = None, DETECTED
    else:
        coords = []
        for k in range(4 + index % 3):
            cx, cy = 40 + SPACING * k, height / 2 + rng.uniform(-10, 10)
            w, h = rng.uniform(20, 40), rng.uniform(30, 50)
            coords.append([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
        boxes = [Box(*map(float, c)) for c in coords]
    markers = []
    for x1, y1, x2, y2 in coords[:-1] if boxes is not None else coords:
        x, y = round(rng.uniform(x1 + 6, x2 - 6)), round(rng.uniform(y1 + 6, y2 - 6))
        cv2.circle(image, (x, y), 3, (255, 0, 0), -1)
        markers.append((float(x), float(y)))
    return image, boxes, markers


def batch_poses(pipeline: Any, inputs: list[ImageInput]) -> list[list[Pose]]:
    return [pipeline.parse(item) for item in pipeline.forward_batch(inputs).images]


def assert_same(got: list[Pose], expected: list[Pose]) -> None:
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        assert a.box == b.box and a.score == pytest.approx(b.score)
        np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-4)


def test_a_batch_of_images_with_more_crops_than_a_chunk_equals_one_crop_at_a_time(
    store: Path,
) -> None:
    chunked = load_pipeline("topdown-marker", "detector-fixed", store=store)
    single = load_pipeline("topdown-single", "detector-fixed", store=store)
    assert chunked.crop.max_crops == CropSpec().max_crops and single.crop.max_crops == 1
    scenes = [scene(i) for i in range(GPU_MAX_BATCH)]
    inputs = [ImageInput(image, boxes, (1.0,)) for image, boxes, _ in scenes]
    crops = sum(len(b) if b is not None else len(DETECTED) for _, b, _ in scenes)
    assert chunked.crop.max_crops < crops < 2 * chunked.crop.max_crops  # two calls, one ragged
    batched = batch_poses(chunked, inputs)
    for (image, boxes, markers), poses in zip(scenes, batched, strict=True):
        assert_same(poses, single.predict(image, boxes).poses)  # alone, one crop per call
        if boxes is not None:  # one pose per client box, in order; the last one empty
            assert [p.box for p in poses] == boxes and poses[-1].score == 0.0
            poses = poses[:-1]
        else:  # the detector's boxes, each holding a marker
            assert all(p.box is not None and p.box.source == BoxSource.DETECTOR for p in poses)
        assert len(poses) == len(markers)
        for pose, marker in zip(poses, markers, strict=True):
            assert pose.score == 1.0
            assert np.abs(pose.keypoints[:, :2] - marker).max() < 1.0, (marker, pose.box)
