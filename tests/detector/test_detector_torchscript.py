"""TorchScript round trip of the detector and its manifest contract in the model store."""

from __future__ import annotations

from pathlib import Path

import torch

from service.detector.decode import InferenceDetector
from service.detector.export import export_detector
from service.detector.net import build_detector
from service.runtime.model_store import load_model


def _check_contract(out: torch.Tensor, batch: int, k: int, height: int, width: int) -> None:
    assert out.shape == (batch, k, 5) and out.dtype == torch.float32
    scores = out[..., 4]
    assert torch.all(scores[:, :-1] >= scores[:, 1:])
    assert torch.all((scores >= 0) & (scores <= 1))
    real = scores > 0
    boxes = out[..., :4][real]
    assert torch.all(boxes[:, 0] <= boxes[:, 2]) and torch.all(boxes[:, 1] <= boxes[:, 3])
    assert torch.all(boxes >= 0) and torch.all(boxes[:, 2] <= width)
    assert torch.all(boxes[:, 3] <= height)
    assert torch.all(out[~real] == 0)


def test_scripted_module_matches_eager_and_survives_save_load(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = build_detector("tiny").eval()
    eager = InferenceDetector(net)
    scripted = torch.jit.script(eager)
    path = tmp_path / "d.pt"
    torch.jit.save(scripted, str(path))
    loaded = torch.jit.load(str(path))
    for shape in [(1, 3, 77, 131), (2, 3, 200, 60), (1, 3, 128, 128)]:
        image = torch.rand(shape) * 255
        out = loaded(image)
        torch.testing.assert_close(out, eager(image))
        _check_contract(out, shape[0], net.config.max_detections, shape[2], shape[3])


def test_export_writes_a_detector_manifest_the_store_loads(tmp_path: Path) -> None:
    net = build_detector("tiny")
    export_detector(net, tmp_path, "det", validation={"ap50": 0.5})
    model = load_model("det", tmp_path)
    assert model.kind == "detector" and model.skeleton is None
    manifest = model.manifest
    assert manifest["output"]["columns"] == ["x1", "y1", "x2", "y2", "score"]
    assert manifest["output"]["K"] == net.config.max_detections
    assert manifest["input"]["range"] == [0, 255] and manifest["input"]["color"] == "RGB"
    assert manifest["validation"] == {"ap50": 0.5}
    assert net.training  # export leaves the caller's mode alone
    out = model.module(torch.rand(1, 3, 90, 160) * 255)
    _check_contract(out, 1, net.config.max_detections, 90, 160)
