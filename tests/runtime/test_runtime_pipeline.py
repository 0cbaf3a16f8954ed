"""PoseModel contracts: padded batches equal single runs, boxes decide the detector, poses found."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from runtime_fakes import SceneData, box, make_scene, make_store

from service.runtime.factory import load_pipeline
from service.runtime.model_store import ModelStoreError
from service.runtime.padding import group_by_size
from service.runtime.protocol import ImageInput, PipelineConfig


@pytest.fixture(scope="module")
def scene() -> SceneData:
    return make_scene()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, scene: SceneData) -> Path:
    return make_store(tmp_path_factory.mktemp("store"), scene)


def test_padded_batch_matches_single_image_runs(store: Path, scene: SceneData) -> None:
    pipeline = load_pipeline("pose-tiny", None, "cpu", store)
    small = np.ascontiguousarray(scene.image[:180, :250])
    alone = pipeline.forward_batch([ImageInput(small, [], (1.0,))]).images[0]
    batch = pipeline.forward_batch(
        [ImageInput(small, [], (1.0,)), ImageInput(scene.image, [], (1.0,))]
    ).images  # fmt: skip
    assert alone.maps.shape == batch[0].maps.shape == (15, 45, 63)  # ceil(180/4), ceil(250/4)
    assert batch[1].maps.shape == (15, 60, 80) and batch[1].fields.shape == (26, 60, 80)
    # Padding only touches the receptive field at the small image's bottom/right border.
    assert np.abs(alone.maps - batch[0].maps).max() < 1e-2
    assert np.abs(alone.maps - batch[0].maps)[:, :-8, :-8].max() < 1e-4


def test_multi_scale_outputs_land_on_the_scale_one_grid(store: Path, scene: SceneData) -> None:
    pipeline = load_pipeline("pose-tiny", None, "cpu", store)
    out = pipeline.forward_batch([ImageInput(scene.image, [], (0.7, 1.0, 1.3))]).images[0]
    assert out.maps.shape == (15, 60, 80) and out.fields.shape == (26, 60, 80)


def test_group_by_size_bounds_padding() -> None:
    sizes = [(480, 640), (480, 640), (120, 160), (470, 630), (120, 150)]
    groups = group_by_size(sizes, 1.3)
    assert sorted(i for g in groups for i in g) == [0, 1, 2, 3, 4]
    assert {frozenset(g) for g in groups} == {frozenset({2, 4}), frozenset({0, 1, 3})}


def test_detector_boxes_and_client_boxes(store: Path, scene: SceneData) -> None:
    pipeline = load_pipeline("pose-fixed", "detector-fixed", "cpu", store)
    client = [box(scene.boxes[1], "client", 1.0)]
    boxes = pipeline.detect_missing(
        [ImageInput(scene.image, None, (1.0,)), ImageInput(scene.image, client, (1.0,))]
    )  # fmt: skip
    assert [b.source for b in boxes[0] or []] == ["detector", "detector"]
    assert boxes[1] == client  # given boxes are used as they are; no detection for that image


def test_predict_finds_the_scene_people(store: Path, scene: SceneData) -> None:
    pipeline = load_pipeline("pose-fixed", "detector-fixed", "cpu", store)
    result = pipeline.predict(scene.image)
    assert len(result.poses) == 2 and result.timings.forward >= 0
    found = sorted(result.poses, key=lambda p: p.keypoints[12, 0])
    for pose, truth in zip(found, scene.keypoints, strict=True):
        assert np.abs(pose.keypoints[:, :2] - truth[:, :2]).max() < 2.0
    own = pipeline.predict(scene.image, [box(scene.boxes[0], "client", 1.0)])
    assert len(own.poses) == 1 and own.poses[0].box is not None
    assert own.poses[0].box.source == "client"


def test_without_a_detector_boxes_come_from_greedy_grouping(store: Path, scene: SceneData) -> None:
    pipeline = load_pipeline("pose-fixed", None, "cpu", store, PipelineConfig())
    poses = pipeline.predict(scene.image).poses
    assert len(poses) == 2
    assert {p.box.source for p in poses if p.box is not None} == {"greedy"}


def test_wrong_kinds_and_missing_models_are_refused(store: Path) -> None:
    with pytest.raises(ModelStoreError):
        load_pipeline("detector-fixed", None, "cpu", store)
    with pytest.raises(ModelStoreError):
        load_pipeline("pose-fixed", "pose-fixed", "cpu", store)
    with pytest.raises(ModelStoreError, match="not found"):
        load_pipeline("missing", None, "cpu", store)


def test_detector_threshold_prefers_the_manifest_recommendation():
    from types import SimpleNamespace

    from service.runtime.common import detector_threshold
    from service.runtime.model_store import parse_manifest

    manifest = parse_manifest("d", {"kind": "detector", "file": "m.pt", "sha256": "0",
                                    "recommended_score_threshold": 0.26,
                                    "internal": {"score_threshold": 0.01}})
    detector = SimpleNamespace(manifest=manifest)
    assert detector_threshold(detector, None) == 0.26  # type: ignore[arg-type]
    assert detector_threshold(detector, 0.5) == 0.5  # type: ignore[arg-type]
    floor_only = SimpleNamespace(manifest=parse_manifest("d", {
        "kind": "detector", "file": "m.pt", "sha256": "0", "internal": {"score_threshold": 0.05}}))
    assert detector_threshold(floor_only, None) == 0.05  # type: ignore[arg-type]
    assert detector_threshold(None, None) == 0.3


def upscaled(scene: SceneData, factor: int) -> np.ndarray:
    """The scene at `factor` times its size: (240 f, 320 f, 3)."""
    return cv2.resize(scene.image, (320 * factor, 240 * factor), interpolation=cv2.INTER_LINEAR)


def test_models_run_at_the_working_size_and_answer_in_original_pixels(
    store: Path, scene: SceneData
) -> None:
    config = PipelineConfig(working_size=320)
    pipeline = load_pipeline("pose-fixed", "detector-fixed", "cpu", store, config)
    big = upscaled(scene, 3)  # 960x720: the models see it at 320x240
    out = pipeline.forward_batch([ImageInput(big, None, (1.0,))]).images[0]
    assert out.maps.shape == (15, 60, 80)  # the grid of 320x240, not of 960x720 (180, 240)
    poses = sorted(pipeline.parse(out), key=lambda p: p.keypoints[12, 0])
    assert len(poses) == 2
    for pose, truth, row in zip(poses, scene.keypoints, scene.boxes, strict=True):
        # The detector's rows are working-image pixels: x3 in the original's.
        assert pose.box is not None and pose.box.source == "detector"
        assert pose.box.as_list() == pytest.approx([3 * v for v in row])
        expected = (truth[:, :2] + 0.5) * 3 - 0.5  # pixel centres, Frame.points_out
        assert np.abs(pose.keypoints[:, :2] - expected).max() < 2.0 * 3
    detected = pipeline.detect_missing([ImageInput(big, None, (1.0,))])[0] or []
    found = np.array([b.as_list() for b in detected])
    np.testing.assert_allclose(found, 3 * np.array(scene.boxes), atol=1e-3)  # float32 rows


def test_a_smaller_rendition_with_the_original_size_answers_alike(
    store: Path, scene: SceneData
) -> None:
    pipeline = load_pipeline("pose-fixed", "detector-fixed", "cpu", store,
                                   PipelineConfig(working_size=320))  # fmt: skip
    whole = pipeline.predict(upscaled(scene, 4)).poses
    rendition = pipeline.predict(upscaled(scene, 2), size=(960, 1280)).poses
    assert len(whole) == len(rendition) == 2
    for a, b in zip(whole, rendition, strict=True):
        assert np.abs(a.keypoints - b.keypoints).max() < 1e-6


def test_working_size_zero_runs_the_whole_image(store: Path, scene: SceneData) -> None:
    pipeline = load_pipeline("pose-fixed", None, "cpu", store, PipelineConfig(working_size=0))
    out = pipeline.forward_batch([ImageInput(upscaled(scene, 3), [], (1.0,))]).images[0]
    assert pipeline.working_size == 0 and out.maps.shape == (15, 180, 240)


def test_working_size_from_settings_else_manifest_else_848(store: Path) -> None:
    from types import SimpleNamespace

    from service.runtime.common import working_size
    from service.runtime.model_store import parse_manifest

    assert load_pipeline("pose-fixed", None, "cpu", store).working_size == 848
    named = SimpleNamespace(manifest=parse_manifest("p", {"kind": "pose", "file": "m.pt",
                                                          "sha256": "0", "working_size": 640}))
    assert working_size(named, None) == 640  # type: ignore[arg-type]
    assert working_size(named, 0) == 0  # type: ignore[arg-type]
    bare = parse_manifest("p", {"kind": "pose", "file": "m.pt", "sha256": "0"})
    assert working_size(SimpleNamespace(manifest=bare), None) == 848  # type: ignore[arg-type]
