"""A pose model with its own box head: one call gives maps, fields and boxes; the pipeline takes
its boxes when no detector is loaded, client boxes still override, and the settings load no
separate detector for it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from runtime_fakes import STRIDE, FixedMaps, SceneData, box, encode_targets, make_scene, write_model

from service.config import Settings
from service.parsing import ParserConfig
from service.runtime.factory import detector_for, load_pipeline
from service.runtime.protocol import PipelineConfig
from service.types import Box


class FixedMapsAndBoxes(torch.nn.Module):
    """FixedMaps plus box rows given in the scene's pixels, scaled with the input's width (as a
    real box head's boxes follow the image it sees)."""

    def __init__(self, maps: FixedMaps, rows: torch.Tensor, width: int) -> None:
        super().__init__()
        self.maps = maps
        self.rows = torch.nn.Parameter(rows[None], requires_grad=False)  # (1, K, 5)
        self.width = width

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        maps, fields = self.maps(x)
        factor = torch.ones(5, dtype=x.dtype)
        factor[:4] = x.shape[3] / self.width
        return maps, fields, (self.rows.to(x.dtype) * factor).expand(x.shape[0], -1, -1)


@pytest.fixture(scope="module")
def scene() -> SceneData:
    return make_scene()


def write_box_head_model(root: Path, scene: SceneData, name: str,
                         manifest_extra: dict[str, Any]) -> None:
    """A FixedMapsAndBoxes model of the scene (its boxes at score 0.8, a padding row at 0) with
    a box-head manifest (threshold 0.5) plus `manifest_extra`."""
    maps, fields = (torch.from_numpy(a) for a in encode_targets(scene))
    rows = torch.tensor([[*b, 0.8] for b in scene.boxes] + [[0, 0, 0, 0, 0.0]]).float()
    net = FixedMapsAndBoxes(FixedMaps(maps, fields, STRIDE), rows, scene.image.shape[1])
    write_model(root, name, net, "pose")
    manifest_path = root / name / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["box_head"] = {"recommended_score_threshold": 0.5}
    manifest.update(manifest_extra)
    manifest_path.write_text(json.dumps(manifest))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, scene: SceneData) -> Path:
    root = tmp_path_factory.mktemp("store")
    write_box_head_model(root, scene, "pose-boxes", {})
    return root


def test_boxes_come_from_the_pose_model_itself(store: Path, scene: SceneData) -> None:
    pipeline = load_pipeline("pose-boxes", None, "cpu", store, PipelineConfig())
    poses = pipeline.predict(scene.image).poses
    assert len(poses) == 2
    assert {p.box.source for p in poses if p.box is not None} == {"box_head"}
    found = sorted([p.box.x1, p.box.y1, p.box.x2, p.box.y2] for p in poses if p.box)
    assert np.allclose(found, sorted(scene.boxes), atol=1e-3)


def test_boxes_follow_scales_and_the_working_size(store: Path, scene: SceneData) -> None:
    big = np.repeat(np.repeat(scene.image, 2, axis=0), 2, axis=1)  # 2x the working size
    config = PipelineConfig(working_size=scene.image.shape[1], scales=(0.8, 1.25))
    pipeline = load_pipeline("pose-boxes", None, "cpu", store, config)
    poses = pipeline.predict(big).poses
    found = sorted([p.box.x1, p.box.y1, p.box.x2, p.box.y2] for p in poses if p.box)
    assert np.allclose(found, 2 * np.array(sorted(scene.boxes)), atol=0.1)


def test_client_boxes_override_the_head(store: Path, scene: SceneData) -> None:
    pipeline = load_pipeline("pose-boxes", None, "cpu", store, PipelineConfig())
    poses = pipeline.predict(scene.image, boxes=[box(scene.boxes[1])]).poses
    assert len(poses) == 1 and poses[0].box is not None and poses[0].box.source == "client"


def test_settings_load_no_detector_for_a_box_head(store: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BOXPOSE_DETECTOR_MODEL", raising=False)
    settings = Settings(pose_model="pose-boxes", model_store=store)
    assert detector_for(settings.runtime()) is None
    chosen = Settings(pose_model="pose-boxes", model_store=store, detector_model="other")
    assert detector_for(chosen.runtime()) == "other"  # the separate detector stays an option


def test_detect_missing_gives_the_heads_boxes_in_original_pixels(store: Path, scene: SceneData
                                                                 ) -> None:  # fmt: skip
    from service.runtime.protocol import ImageInput

    big = np.repeat(np.repeat(scene.image, 2, axis=0), 2, axis=1)
    config = PipelineConfig(working_size=scene.image.shape[1])
    pipeline = load_pipeline("pose-boxes", None, "cpu", store, config)
    (found,), (given,) = (pipeline.detect_missing([ImageInput(big, b, (1.0,))])
                          for b in (None, [box(scene.boxes[0])]))  # fmt: skip
    assert found is not None and {b.source for b in found} == {"box_head"}
    coords = sorted([b.x1, b.y1, b.x2, b.y2] for b in found)
    assert np.allclose(coords, 2 * np.array(sorted(scene.boxes)), atol=0.1)  # 0.0 row dropped
    assert given is not None and [b.source for b in given] == ["client"]


def test_the_manifests_parser_settings_serve_unless_the_configuration_sets_them(
        tmp_path: Path, scene: SceneData) -> None:  # fmt: skip
    """A model whose manifest says `parser.search_extension` 0.1 is parsed in its boxes grown
    10%: a client box shifted right by half its width loses the joints left of it; the
    configuration's own value (here 1.0) wins over the manifest's and keeps them."""
    write_box_head_model(tmp_path, scene, "tight", {"parser": {"search_extension": 0.1}})
    x1, y1, x2, y2 = scene.boxes[0]
    shifted = Box(x1 + 0.5 * (x2 - x1), y1, x2 + 0.5 * (x2 - x1), y2, 1.0, "client")
    found = {}
    for search in (None, 1.0):
        config = PipelineConfig(parser=ParserConfig(search_extension=search))
        pipeline = load_pipeline("tight", None, "cpu", tmp_path, config)
        assert pipeline.config.parser.search_extension == (0.1 if search is None else 1.0)
        (pose,) = pipeline.predict(scene.image, [shifted]).poses
        found[search] = int((pose.keypoints[:, 2] > 0).sum())
    assert found[1.0] == len(scene.keypoints[0])
    assert found[None] < found[1.0] - 2, found


def test_every_parser_setting_of_the_manifest_is_taken_where_the_configuration_has_none(
        tmp_path: Path, scene: SceneData) -> None:  # fmt: skip
    write_box_head_model(tmp_path, scene, "ranked", {"parser": {"search_extension": 0.3,
                                                               "connection_peak_weight": 1.25}})
    for given, expected in ((ParserConfig(), (0.3, 1.25)),
                            (ParserConfig(connection_peak_weight=0.0), (0.3, 0.0)),
                            (ParserConfig(search_extension=1.0), (1.0, 1.25))):
        pipeline = load_pipeline("ranked", None, "cpu", tmp_path, PipelineConfig(parser=given))
        parser = pipeline.config.parser
        assert (parser.search_region, parser.peak_weight) == expected


def test_head_rows_with_regressed_joints_give_boxes_that_carry_them() -> None:
    """(K, 5 + 2 J) rows on an image resized by 0.5: boxes in the image's pixels, each with its
    joints (Box.joints, box units) where the row put them, divided by the scale; a box clipped
    to the image keeps its joints where they were; rows under the cut are dropped."""
    from service.runtime.box_source import head_boxes

    joints = np.array([[20.0, 30.0], [40.0, 90.0]])  # (J, 2), J = 2, resized pixels
    rows = np.array([[10, 20, 50, 100, 0.9, *joints.ravel()],
                     [-10, 0, 30, 60, 0.8, 5, 5, 0, 0],
                     [0, 0, 5, 5, 0.05, 1, 1, 2, 2]])  # fmt: skip
    found = head_boxes(rows, (120, 160), 0.1, 0.5)
    assert len(found) == 2
    assert [found[0].x1, found[0].y1, found[0].x2, found[0].y2] == [20, 40, 100, 200]
    assert np.allclose(found[0].joint_points(), joints / 0.5)
    assert found[1].x1 == 0.0  # clipped
    assert np.allclose(found[1].joint_points(), [[10, 10], [0, 0]])
    plain = head_boxes(rows[:, :5], (120, 160), 0.1, 0.5)
    assert plain == found and all(b.joints is None for b in plain)
