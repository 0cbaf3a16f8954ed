"""The parser and supplement settings: BOXPOSE_PARSER switches parsers, a bad one stops the
start, /v1/models names the active one; BOXPOSE_SUPPLEMENT_DETECTOR_BOXES keeps the people a
detector missed."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from api_helpers import Server, settings_for
from pydantic import ValidationError
from runtime_fakes import FixedBoxes, SceneData, box, write_model

from service.api import command as serve_command
from service.config import Settings
from service.parsing import PARSERS
from service.runtime.factory import from_settings, pipeline_config
from service.types import BoxSource


def test_models_name_the_active_parser(make_server: Callable[..., Server]) -> None:
    server = make_server(parser="greedy", warmup=False)
    body = httpx.get(f"{server.url}/v1/models").json()
    assert body["parser"] == "greedy" and {m["kind"] for m in body["models"]} == {"pose",
                                                                                  "detector"}


def test_the_parser_setting_switches_parsers(store: Path, scene: SceneData) -> None:
    first = [box(scene.boxes[0])]  # a client box around the first of the two people
    boxes = from_settings(settings_for(store)).predict(scene.image, first).poses
    assert len(boxes) == 1 and boxes[0].box is not None and boxes[0].box.source == "client"
    greedy = from_settings(settings_for(store, parser="greedy"))
    assert greedy.config.parser_name == "greedy"
    poses = greedy.predict(scene.image, first).poses  # the greedy parser ignores boxes
    assert len(poses) == len(scene.boxes) == 2
    assert all(p.box is None or p.box.source != BoxSource.CLIENT for p in poses)


def test_a_bad_parser_names_the_allowed_ones(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValidationError, match="boxes, greedy"):
        Settings(parser="hungarian")
    assert sorted(PARSERS) == ["boxes", "greedy"]
    monkeypatch.setenv("BOXPOSE_PARSER", "hungarian")
    parser = argparse.ArgumentParser()
    serve_command.register(parser)
    assert serve_command.run(parser.parse_args([])) == 2  # before any model is loaded
    assert "unknown parser 'hungarian'; choose from boxes, greedy" in capsys.readouterr().err


def test_supplement_defaults_on_with_a_detector_only(store: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BOXPOSE_SUPPLEMENT_DETECTOR_BOXES", raising=False)
    runtime = Settings(model_store=store, pose_model="pose-fixed").runtime()
    assert pipeline_config(runtime, "detector-fixed").parser.supplement_detector_boxes
    assert not pipeline_config(runtime, None).parser.supplement_detector_boxes
    monkeypatch.setenv("BOXPOSE_SUPPLEMENT_DETECTOR_BOXES", "false")
    off = Settings(model_store=store).runtime()
    assert not pipeline_config(off, "detector-fixed").parser.supplement_detector_boxes


def test_supplement_keeps_the_person_the_detector_missed(
    tmp_path: Path, store: Path, scene: SceneData
) -> None:
    import shutil

    import torch

    shutil.copytree(store / "pose-fixed", tmp_path / "pose-fixed")
    row = torch.tensor([[*scene.boxes[0], 0.9]], dtype=torch.float32)  # the first person only
    write_model(tmp_path, "detector-one", FixedBoxes(row), "detector")
    found = {}
    for supplement in (True, False):
        settings = settings_for(tmp_path, detector_model="detector-one",
                                supplement_detector_boxes=supplement)
        found[supplement] = from_settings(settings).predict(scene.image).poses
    assert len(found[False]) == 1 and len(found[True]) == 2
    assert {p.box.source for p in found[True] if p.box is not None} == {"detector", "greedy"}
