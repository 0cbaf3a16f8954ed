"""`boxpose import openpose`: a fabricated body_pose_model.pth (the real file's keys and shapes,
random values) imports; the TorchScript it writes equals a functional forward over the same
tensors; files with a missing, extra or mis-shaped key are refused, naming it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from openpose_fakes import cheap_state, fabricated_state, file_shapes, functional_forward, save

from service.cli import main
from service.errors import BoxposeError
from service.importers.openpose import load_openpose
from service.importers.openpose_export import import_openpose
from service.runtime.model_store import load_model, sha256_of
from service.skeleton import COCO18


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor]]:
    state = fabricated_state()
    return save(state, tmp_path_factory.mktemp("weights") / "body_pose_model.pth"), state


@pytest.fixture(scope="module")
def store(weights: tuple[Path, dict[str, torch.Tensor]],
          tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("store")
    argv = ["import", "openpose", str(weights[0]), "--name", "op", "--model-store", str(root)]
    assert main(argv) == 0
    return root


def test_the_layout_is_the_papers_baseline() -> None:
    shapes = file_shapes()
    assert len(shapes) == 184  # 92 convolutions
    params = sum(torch.Size(s).numel() for s in shapes.values())
    assert params == 52_311_446  # with COCO's outputs; Table III's 51.29M has AIC-14's


def test_fabricated_file_imports_with_its_manifest(store: Path, weights: tuple) -> None:
    manifest = json.loads((store / "op" / "manifest.json").read_text())
    assert manifest["kind"] == "pose" and manifest["preset"] == "openpose-vgg19"
    assert manifest["skeleton"] == COCO18.to_dict() and manifest["output_stride"] == 8
    assert manifest["input"]["normalisation"]["formula"] == "x / 256 - 0.5"
    assert manifest["input"]["normalisation"]["order"].startswith("BGR")
    assert manifest["num_parameters"] == 52_311_446
    assert manifest["source"] == {"file": "body_pose_model.pth", "sha256": sha256_of(weights[0]),
                                  "bytes": weights[0].stat().st_size, "key_layout": "flat"}
    layout = manifest["openpose"]
    assert len(layout["limbs"]) == 19 and len(layout["paf_channels"]) == 19
    assert layout["limbs"][0] == ["neck", "right_shoulder"]
    assert layout["paf_channels"][0] == [12, 13]
    assert layout["dropped_limbs"] == [["right_shoulder", "right_ear"],
                                       ["left_shoulder", "left_ear"]]
    assert manifest["validation"]["torchscript_max_abs_diff"] == 0.0
    loaded = load_model("op", store)  # sha256 checked
    assert loaded.skeleton == COCO18 and loaded.stride == 8


def test_torchscript_equals_a_functional_forward(store: Path, weights: tuple) -> None:
    module = load_model("op", store).module
    rgb = torch.rand(2, 3, 37, 53, generator=torch.Generator().manual_seed(1)) * 255
    with torch.inference_mode():
        maps, fields = module(rgb)
        want_maps, want_fields = functional_forward(weights[1], rgb)
    assert maps.shape == (2, 19, 5, 7) and fields.shape == (2, 34, 5, 7)
    assert float(want_maps.abs().max()) > 0.1 and float(want_fields.abs().max()) > 0.1
    torch.testing.assert_close(maps, want_maps, rtol=0, atol=1e-5)
    torch.testing.assert_close(fields, want_fields, rtol=0, atol=1e-5)


def test_a_port_model_state_dict_loads_too(tmp_path: Path) -> None:
    blocks = {}
    for key, shape in file_shapes().items():  # as a port's model.state_dict() names them
        layer = key.rpartition(".")[0]
        if layer.startswith("Mconv"):
            stage, b = layer.split("_stage")[1].split("_L")
            block = f"model{stage}_{b}"
        elif layer.startswith("conv5_"):
            block = f"model1_{layer[-1]}"
        else:
            block = "model0"
        blocks[f"{block}.{key}"] = shape
    net, layout = load_openpose(save(cheap_state(blocks), tmp_path / "port.pth"))
    assert layout == "blocks"
    assert float(net.get_parameter("model6_2.Mconv7_stage6_L2.bias").detach().abs().sum()) == 0


def _refused(tmp_path: Path, shapes: dict[str, tuple[int, ...]]) -> str:
    path = save(cheap_state(shapes), tmp_path / "body_pose_model.pth")
    with pytest.raises(BoxposeError) as caught:
        import_openpose(path, tmp_path / "store", "op")
    assert not (tmp_path / "store").exists()  # nothing written
    return str(caught.value)


def test_refuses_a_missing_key(tmp_path: Path) -> None:
    shapes = file_shapes()
    del shapes["Mconv7_stage6_L2.bias"]
    message = _refused(tmp_path, shapes)
    assert "missing (1): Mconv7_stage6_L2.bias" in message
    assert "extra" not in message and "mis-shaped" not in message


def test_refuses_an_extra_key(tmp_path: Path) -> None:
    message = _refused(tmp_path, {**file_shapes(), "conv6_1_CPM.weight": (3, 3)})
    assert "extra (1): conv6_1_CPM.weight" in message and "missing" not in message


def test_refuses_a_mis_shaped_key(tmp_path: Path) -> None:
    message = _refused(tmp_path, {**file_shapes(), "Mconv1_stage2_L1.weight": (128, 180, 7, 7)})
    assert ("mis-shaped (1): Mconv1_stage2_L1.weight (128, 180, 7, 7), expected "
            "(128, 185, 7, 7)") in message


def test_refuses_what_is_no_state_dict(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "notes.pth"
    path.write_text("not a checkpoint")
    assert main(["import", "openpose", str(path), "--model-store", str(tmp_path)]) == 2
    assert "notes.pth: not a PyTorch state dict" in capsys.readouterr().err
    with pytest.raises(BoxposeError, match="letters, digits"):
        import_openpose(path, tmp_path, "../elsewhere")
