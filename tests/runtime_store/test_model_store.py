"""The loader reads the manifest, checks the sha256 and refuses anything outside the store."""

import json

import pytest
import torch

from service.network import build_network, export_model
from service.runtime.model_store import ModelStoreError, load_model
from service.skeleton import AIC14


@pytest.fixture()
def store(tmp_path):
    export_model(build_network("tiny", AIC14), tmp_path / "store", "pose-tiny", AIC14)
    return tmp_path / "store"


def test_loads_and_runs(store):
    model = load_model("pose-tiny", store)
    assert model.kind == "pose" and model.stride == 4 and model.skeleton == AIC14
    manifest = json.loads((store / "pose-tiny" / "manifest.json").read_text())
    assert model.sha256 == manifest["sha256"]
    assert manifest["num_parameters"] > 0 and manifest["validation"] == {}
    maps, fields = model.module(torch.zeros(1, 3, 40, 40))
    assert maps.shape == (1, 15, 10, 10) and fields.shape == (1, 26, 10, 10)


def test_rejects_tampered_file(store):
    path = store / "pose-tiny" / "model.pt"
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelStoreError, match="sha256"):
        load_model("pose-tiny", store)


@pytest.mark.parametrize("name", ["../pose-tiny", "/etc", "pose-tiny/..", ""])
def test_rejects_names_outside_the_store(store, name):
    with pytest.raises(ModelStoreError, match="outside"):
        load_model(name, store)


def test_rejects_symlink_out_of_the_store(store, tmp_path):
    outside = tmp_path / "elsewhere"
    export_model(build_network("tiny", AIC14), tmp_path, "elsewhere", AIC14)
    (store / "linked").symlink_to(outside)
    with pytest.raises(ModelStoreError, match="outside"):
        load_model("linked", store)


def test_missing_model_says_so(store):
    with pytest.raises(ModelStoreError, match="not found"):
        load_model("nope", store)


def test_a_bad_manifest_field_is_named(store):
    path = store / "pose-tiny" / "manifest.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, "output_stride": "eight"}))
    with pytest.raises(ModelStoreError, match="field 'output_stride'"):
        load_model("pose-tiny", store)
    path.write_text(json.dumps({**manifest, "box_head": {"recommended_score_threshold": 2}}))
    with pytest.raises(ModelStoreError, match="field 'box_head.recommended_score_threshold'"):
        load_model("pose-tiny", store)


def test_the_typed_manifest_keeps_its_descriptive_keys(store):
    model = load_model("pose-tiny", store)
    assert model.manifest.output_stride == 4 and model.manifest.box_head is None
    assert model.manifest["validation"] == {} and model.manifest["num_parameters"] > 0
    assert model.manifest.get("no such key", "absent") == "absent"


def test_the_store_is_read_from_the_settings(store, monkeypatch):
    from service.runtime.model_store import MODEL_STORE, default_store

    monkeypatch.delenv("BOXPOSE_MODEL_STORE", raising=False)
    assert default_store() == MODEL_STORE
    monkeypatch.setenv("BOXPOSE_MODEL_STORE", str(store))
    assert default_store() == store and load_model("pose-tiny").stride == 4
