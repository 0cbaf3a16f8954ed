"""The models bundled in model_store/ load, follow their contracts and run end to end."""

import json

import numpy as np
import pytest

from service.data.synth.scene import SynthConfig, generate_scene
from service.runtime.model_store import MODEL_STORE, load_model
from service.runtime.pipeline import Pipeline
from service.types import Box

BUNDLED = ("pose-lite", "detector-lite")


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_model_manifest(name):
    manifest = json.loads((MODEL_STORE / name / "manifest.json").read_text())
    path = MODEL_STORE / name / manifest["file"]
    assert path.stat().st_size < 25 * 1024 * 1024
    model = load_model(name)  # checks the sha256
    assert model.sha256 == manifest["sha256"]
    assert manifest["trained_on"], "a bundled model says what it was trained on"
    assert manifest["validation"], "a bundled model carries its measured validation figures"


def test_bundled_pipeline_runs_on_a_generated_scene():
    scene = generate_scene(np.random.default_rng(12345), 320, 240, SynthConfig(min_people=2))
    pipeline = Pipeline.from_store("pose-lite", "detector-lite")
    result = pipeline.predict(scene.image)
    assert pipeline.skeleton.num_joints == 14
    for pose in result.poses:
        assert pose.keypoints.shape == (14, 3)
        found = pose.keypoints[:, 2] > 0
        xy = pose.keypoints[found, :2]
        assert np.all((xy >= -1) & (xy <= [320, 240]))
    # Own boxes: the detector is skipped and every pose lies in (the extension of) its box.
    box = scene.boxes[0]
    own = pipeline.predict(scene.image, boxes=[Box(*map(float, box))])
    assert len(own.poses) <= 1
    assert all(p.box is not None and p.box.source == "client" for p in own.poses)
