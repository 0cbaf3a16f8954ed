"""The models bundled in model_store/ load, follow their contracts and run end to end."""

import json

import numpy as np
import pytest

from service.data.synth.scene import SynthConfig, generate_scene
from service.runtime.factory import load_pipeline
from service.runtime.model_store import MODEL_STORE, load_model
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


# A generated scene pose-lite should read: two upright people facing the camera, 50-90% of the
# image height, apart and unoccluded; seed 11 draws both wholly inside the image.
EASY = SynthConfig(
    min_people=2, max_people=2, min_height=0.5, max_height=0.9, p_cluster=0.0, p_distractor=0.0,
    kinds=("standing", "walking"), view_weights=(1.0, 0.0, 0.0),
)  # fmt: skip
WIDTH, HEIGHT = 480, 320
NEAR = 0.1  # of the person's long side: a joint predicted within it is in place (PCK@0.1)


def in_place(keypoints: np.ndarray, truth: np.ndarray, box: np.ndarray) -> float:
    """(J, 3) predicted, (J, 3) ground truth, its (4,) box -> share of the labelled joints
    predicted within NEAR x the box's long side."""
    size = max(box[2] - box[0], box[3] - box[1])
    err = np.linalg.norm(keypoints[:, :2] - truth[:, :2], axis=1)
    near = (keypoints[:, 2] > 0) & (err <= NEAR * size)
    return float(near[truth[:, 2] > 0].mean())


def assert_plausible(keypoints: np.ndarray) -> None:
    """Most joints found, inside the image, their scores above the parser's 0.1 cut."""
    found = keypoints[:, 2] > 0
    assert found.sum() >= 12, keypoints
    xy = keypoints[found, :2]
    assert np.all((xy >= -1) & (xy <= [WIDTH, HEIGHT])), xy
    assert np.all((keypoints[found, 2] >= 0.1) & (keypoints[found, 2] <= 1.0)), keypoints[:, 2]


def test_bundled_pipeline_finds_the_people_of_a_generated_scene():
    scene = generate_scene(np.random.default_rng(11), WIDTH, HEIGHT, EASY)
    assert len(scene.keypoints) == 2 and (scene.keypoints[:, :, 2] > 0).all()
    pipeline = load_pipeline("pose-lite", "detector-lite")
    assert pipeline.skeleton.num_joints == 14
    poses = pipeline.predict(scene.image).poses
    assert poses and all(p.keypoints.shape == (14, 3) for p in poses)
    for truth, box in zip(scene.keypoints, scene.boxes, strict=True):
        shares = [in_place(p.keypoints, truth, box) for p in poses]
        assert max(shares) >= 0.75, ("person not found", box.tolist(), shares)
        best = poses[int(np.argmax(shares))]
        assert best.box is not None and best.box.source == "detector" and best.score >= 0.3
        assert_plausible(best.keypoints)
    # Own boxes: the detector is skipped; one pose per box, of the person in it.
    for truth, box in zip(scene.keypoints, scene.boxes, strict=True):
        own = pipeline.predict(scene.image, boxes=[Box(*map(float, box))]).poses
        assert len(own) == 1 and own[0].box is not None and own[0].box.source == "client"
        assert in_place(own[0].keypoints, truth, box) >= 0.75, ("own box", box.tolist())
        assert_plausible(own[0].keypoints)
