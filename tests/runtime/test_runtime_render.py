"""Rendering and `boxpose predict`: the overlay draws where the people are; the command's JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from runtime_fakes import SceneData, box, make_scene, make_store

from service.runtime.render import render
from service.skeleton import AIC14
from service.types import Pose

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def scene() -> SceneData:
    return make_scene()


def test_render_draws_skeleton_and_box_only_near_the_pose(scene: SceneData) -> None:
    blank = np.zeros_like(scene.image)
    pose = Pose(scene.keypoints[0].copy(), 0.9, box(scene.boxes[0], "detector", 0.9))
    drawn = render(blank, [pose], AIC14)
    assert drawn.shape == blank.shape
    assert not np.asarray(drawn.any(axis=2))[:, 170:].any()  # nothing right of person 0
    neck = scene.keypoints[0][13, :2].round().astype(int)
    assert drawn[neck[1], neck[0]].any()  # a joint marker sits on the neck
    assert not blank.any()  # the input is left untouched


def test_predict_command(tmp_path: Path, scene: SceneData) -> None:
    store = make_store(tmp_path / "store", scene)
    image, boxes, overlay = tmp_path / "scene.png", tmp_path / "boxes.json", tmp_path / "out.png"
    image.write_bytes(scene.png())
    boxes.write_text(json.dumps([scene.boxes[1]]))
    command = [sys.executable, "-m", "service.cli", "predict", str(image), "--model-store",
               str(store), "--pose-model", "pose-fixed", "--detector-model", "detector-fixed",
               "--device", "cpu"]  # fmt: skip
    done = subprocess.run([*command, "--boxes", str(boxes), "--render", str(overlay)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    assert output["image"] == {"width": 320, "height": 240}
    assert len(output["persons"]) == 1 and output["persons"][0]["box_source"] == "client"
    assert overlay.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    missing = subprocess.run([*command[:5], "--model-store", str(store), "--pose-model", "nope"],
                             cwd=REPO, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert missing.returncode == 2 and "nope" in missing.stderr
