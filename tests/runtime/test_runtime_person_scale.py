"""The pose pass at the scale that brings the people to the size the net was trained on
(service/runtime/person_scale.py): the equation, and the pipeline's passes with a stand-in net."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from runtime_fakes import STRIDE, SceneData, box, make_scene
from test_runtime_box_head import write_box_head_model

from service.runtime.factory import load_pipeline
from service.runtime.model_store import ModelStoreError, parse_manifest
from service.runtime.person_scale import PersonScale, merge_boxes, scaled
from service.runtime.protocol import PipelineConfig, PoseModel
from service.skeleton import AIC14
from service.types import Box

PERSON_SIZE, BOX_LONG_SIDE = 80.0, 160


def boxes_of(sides: list[float]) -> list[Box]:
    return [Box(10.0, 20.0, 10.0 + 0.5 * s, 20.0 + s, 1.0, "client") for s in sides]


def test_scale_brings_the_median_person_to_the_person_size() -> None:
    rule = PersonScale(person_size=150.0, box_long_side=(256,))
    assert rule.pose_scale(boxes_of([100, 300, 400]), (480, 848), 848) == pytest.approx(0.5)
    # 150 / 250 = 0.6 -> the nearest eighth of an octave: 2 ** (-6 / 8)
    assert rule.pose_scale(boxes_of([250]), (480, 848), 848) == pytest.approx(2 ** -0.75)
    assert rule.pose_scale([], (480, 848), 848) is None


def test_scale_is_clipped() -> None:
    rule = PersonScale(person_size=150.0, box_long_side=(256,), min_scale=0.25, max_scale=2.0)
    assert rule.pose_scale(boxes_of([5000]), (480, 848), 848) == pytest.approx(0.25)
    # small people on a working-size image: never beyond the working size
    assert rule.pose_scale(boxes_of([20]), (480, 848), 848) == pytest.approx(1.0)
    # a small image may grow up to the working size, at most max_scale
    assert rule.pose_scale(boxes_of([20]), (300, 400), 848) == pytest.approx(2.0)
    assert rule.pose_scale(boxes_of([120]), (300, 600), 848) == pytest.approx(2 ** (3 / 8))  # 1.25
    assert rule.pose_scale(boxes_of([100]), (300, 600), 848) == pytest.approx(848 / 600)
    assert rule.pose_scale(boxes_of([20]), (300, 400), 0) == pytest.approx(2.0)


def test_people_of_very_different_sizes_get_a_pass_each() -> None:
    rule = PersonScale(person_size=100.0, box_long_side=())
    big, mid, small, tiny = boxes_of([400, 120, 100, 50])
    # own scales 0.25, 0.83, 1, 2 (octaves -2, -0.26, 0, 1): cut where the next lies more than
    # one octave above its group's first; most boxes first
    groups = rule.groups([small, tiny, big, mid], (480, 848), 0)
    assert [scale for scale, _ in groups] == pytest.approx([2 ** (-1 / 8), 0.25, 2.0])
    assert [[id(b) for b in members] for _, members in groups] == [
        [id(mid), id(small)], [id(big)], [id(tiny)]]  # 100 / median(120, 100) = 0.91 -> 2^-1/8
    # at most two passes: the two groups whose median scales are closest merge
    two = PersonScale(100.0, (), max_passes=2).groups([small, tiny, big, mid], (480, 848), 0)
    assert [(scale, len(members)) for scale, members in two] == [(1.0, 3), (0.25, 1)]
    # a person-size image of similar people: one pass, at the median's scale
    similar = boxes_of([100, 104, 180])
    ((scale, members),) = rule.groups(similar, (480, 848), 0)
    assert scale == rule.pose_scale(similar, (480, 848), 0) and len(members) == 3
    # groups whose scales round to the same eighth of an octave share one pass
    close = PersonScale(100.0, (), span_octaves=0.01).groups(boxes_of([100, 101]), (480, 848), 0)
    assert len(close) == 1 and close[0][0] == 1.0 and len(close[0][1]) == 2
    assert rule.groups([], (480, 848), 0) == []


def test_box_pass_scale_and_requested_scales() -> None:
    rule = PersonScale(person_size=150.0, box_long_side=(256, 512))
    assert rule.box_scales((480, 640)) == pytest.approx((0.4, 0.8))
    assert PersonScale(150.0, ()).box_scales((480, 640)) == (1.0,)
    assert scaled((0.7, 1.0, 1.3), 0.5) == pytest.approx((0.35, 0.5, 0.65))
    assert scaled((1.0,), None) == (1.0,)


def test_manifest_block() -> None:
    def of(block: dict | None) -> PersonScale | None:
        raw = {"kind": "pose", "file": "m.pt", "sha256": "0"}
        manifest = parse_manifest("p", raw if block is None else {**raw, "person_scale": block})
        return PersonScale.from_spec(manifest.person_scale)

    assert of(None) is None
    assert of({"person_size": 200, "box_long_side": 256}) == PersonScale(200.0, (256,), 0.25,
                                                                         2.0, 1.0, 3)
    tuned = of({"person_size": 200, "span_octaves": 0.5, "max_passes": 2})
    assert tuned == PersonScale(200.0, (), 0.25, 2.0, 0.5, 2)
    both = of({"person_size": 200, "box_long_side": [256, 512]})
    assert both is not None and both.box_long_side == (256, 512)
    with pytest.raises(ModelStoreError, match="person_scale.person_size"):
        of({"box_long_side": 256})  # a typed manifest names the missing field


def test_boxes_of_several_passes_merge_by_overlap() -> None:
    a = Box(0.0, 0.0, 100.0, 200.0, 0.9, "box_head")
    a_again = Box(5.0, 5.0, 100.0, 205.0, 0.6, "box_head")  # IoU 0.88 with a
    b = Box(150.0, 0.0, 250.0, 200.0, 0.7, "box_head")
    assert merge_boxes([a_again, b, a]) == [a, b]
    assert merge_boxes([b]) == [b]


@pytest.fixture(scope="module")
def scene() -> SceneData:
    return make_scene()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, scene: SceneData) -> Path:
    root = tmp_path_factory.mktemp("store")
    for name, sides in (("pose-scaled", BOX_LONG_SIDE), ("pose-two-passes", [BOX_LONG_SIDE, 320])):
        rule = {"person_size": PERSON_SIZE, "box_long_side": sides}
        write_box_head_model(root, scene, name, {"person_scale": rule})
    return root


def spied(pipeline: PoseModel) -> list[float]:
    """The scales of every pose-net call the pipeline makes from now on."""
    calls: list[float] = []
    forward = pipeline.net.forward_scale

    def spy(images: list[np.ndarray], scale: float):  # type: ignore[no-untyped-def]
        calls.append(scale)
        return forward(images, scale)

    pipeline.net.forward_scale = spy  # type: ignore[attr-defined]
    return calls


def expected_pose_scale(boxes: list[list[float]]) -> float:
    side = float(np.median([max(x2 - x1, y2 - y1) for x1, y1, x2, y2 in boxes]))
    return float(2 ** (round(np.log2(PERSON_SIZE / side) * 8) / 8))


def test_box_pass_then_pose_pass_at_the_person_scale(store: Path, scene: SceneData) -> None:
    pipeline = load_pipeline("pose-scaled", None, "cpu", store, PipelineConfig())
    calls = spied(pipeline)
    poses = pipeline.predict(scene.image).poses
    assert calls[0] == pytest.approx(BOX_LONG_SIDE / max(scene.image.shape[:2]))
    assert calls[1:] == [pytest.approx(expected_pose_scale(scene.boxes))]
    assert calls[1] < 0.6  # the scene's people (~170 px) are brought to ~80 px
    assert len(poses) == 2
    found = sorted([p.box.x1, p.box.y1, p.box.x2, p.box.y2] for p in poses if p.box)
    assert np.allclose(found, sorted(scene.boxes), atol=1e-3)
    for pose in poses:  # each pose still on its person, in the image's pixels
        truth = min(scene.keypoints, key=lambda kp: np.abs(kp[:, 0].mean() - pose.keypoints[:, 0]
                                                        .mean()))  # fmt: skip
        found_joints = pose.keypoints[:, 2] > 0
        error = np.linalg.norm(pose.keypoints[found_joints, :2] - truth[found_joints, :2], axis=1)
        assert found_joints.sum() >= 12 and np.median(error) < 2 * STRIDE / calls[1]


def test_client_boxes_choose_the_scale_without_a_box_pass(store: Path, scene: SceneData) -> None:
    pipeline = load_pipeline("pose-scaled", None, "cpu", store,
                                   PipelineConfig(scales=(0.8, 1.25)))
    calls = spied(pipeline)
    pipeline.predict(scene.image, boxes=[box(scene.boxes[0])])
    base = expected_pose_scale([scene.boxes[0]])
    assert calls == [pytest.approx(0.8 * base), pytest.approx(1.25 * base)]


def test_person_scale_off_runs_the_requested_scales(store: Path, scene: SceneData) -> None:
    pipeline = load_pipeline("pose-scaled", None, "cpu", store,
                                   PipelineConfig(person_scale=False))
    calls = spied(pipeline)
    assert len(pipeline.predict(scene.image).poses) == 2
    assert calls == [1.0]


def test_detect_missing_uses_the_box_pass(store: Path, scene: SceneData) -> None:
    from service.runtime.protocol import ImageInput

    pipeline = load_pipeline("pose-scaled", None, "cpu", store, PipelineConfig())
    calls = spied(pipeline)
    (found,) = pipeline.detect_missing([ImageInput(scene.image, None, (1.0,))])
    assert calls == [pytest.approx(BOX_LONG_SIDE / max(scene.image.shape[:2]))]
    assert found is not None and len(found) == 2


def test_two_box_passes_find_each_person_once(store: Path, scene: SceneData) -> None:
    pipeline = load_pipeline("pose-two-passes", None, "cpu", store, PipelineConfig())
    calls = spied(pipeline)
    poses = pipeline.predict(scene.image).poses
    assert calls[:2] == [pytest.approx(0.5), pytest.approx(1.0)]  # 160 and 320 px of 320
    assert len(poses) == 2
    found = sorted([p.box.x1, p.box.y1, p.box.x2, p.box.y2] for p in poses if p.box)
    assert np.allclose(found, sorted(scene.boxes), atol=1e-3)


class ScaleSwitch(torch.nn.Module):
    """A pose net stand-in that shows person 0 only on inputs narrower than `split` px and
    person 1 only on wider ones: a box parsed in the wrong pass's maps finds nobody."""

    def __init__(self, narrow: torch.nn.Module, wide: torch.nn.Module, split: int) -> None:
        super().__init__()
        self.narrow, self.wide, self.split = narrow, wide, split

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.shape[3] < self.split:
            return self.narrow(x)
        return self.wide(x)


def test_each_box_is_parsed_in_the_pass_of_its_own_scale(tmp_path: Path,
                                                         scene: SceneData) -> None:
    from runtime_fakes import FixedMaps, write_model

    from service.targets import TargetConfig, encode

    def person_net(k: int) -> FixedMaps:
        t = encode(scene.keypoints[k:k + 1], AIC14, scene.image.shape[0], scene.image.shape[1],
                   TargetConfig(stride=STRIDE))  # fmt: skip
        return FixedMaps(torch.from_numpy(t.maps), torch.from_numpy(t.fields), STRIDE)

    width = scene.image.shape[1]
    write_model(tmp_path, "pose-switch", ScaleSwitch(person_net(0), person_net(1), width // 2),
                "pose")
    manifest_path = tmp_path / "pose-switch" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["person_scale"] = {"person_size": 400, "max_scale": 2.0}
    manifest_path.write_text(json.dumps(manifest))
    pipeline = load_pipeline("pose-switch", None, "cpu", tmp_path, PipelineConfig())
    calls = spied(pipeline)
    # person 0 sent with a box 5x its ~200 px (scale 400 / 1,000: a 128-px wide input), person
    # 1 with its own box (scale 2: 640 px wide); one median scale would lose one of them
    x1, y1, x2, y2 = scene.boxes[0]
    grown = [x1, y1, x1 + 5 * (x2 - x1), y1 + 5 * (y2 - y1)]
    poses = pipeline.predict(scene.image, boxes=[box(grown), box(scene.boxes[1])]).poses
    assert len(calls) == 2 and min(calls) * width < width // 2 <= max(calls) * width
    for pose, truth in zip(poses, scene.keypoints, strict=True):  # answered in the boxes' order
        found = pose.keypoints[:, 2] > 0
        error = np.linalg.norm(pose.keypoints[found, :2] - truth[found, :2], axis=1)
        assert found.sum() >= 12 and np.median(error) < 2 * STRIDE / min(calls)
    # the configuration may hold the pipeline to one pass at the median person's scale
    median = load_pipeline("pose-switch", None, "cpu", tmp_path,
                                 PipelineConfig(max_pose_passes=1))
    median_calls = spied(median)
    median.predict(scene.image, boxes=[box(grown), box(scene.boxes[1])])
    assert median_calls == [pytest.approx(2 ** (round(np.log2(400 / np.median(
        [max(x2 - x1, y2 - y1) for x1, y1, x2, y2 in (grown, scene.boxes[1])])) * 8) / 8))]
