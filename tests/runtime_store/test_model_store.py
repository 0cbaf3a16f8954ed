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
