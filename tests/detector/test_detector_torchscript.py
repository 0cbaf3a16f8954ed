"""TorchScript round trip of the detector and its manifest contract in the model store."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
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


def test_reexport_changes_the_working_resolution_and_keeps_the_record(tmp_path: Path) -> None:
    from service.data.synth.writer import write_dataset
    from service.detector.data import read_coco_boxes
    from service.detector.evaluate import evaluate_detector
    from service.detector.export import reexport_detector

    torch.manual_seed(0)
    net = build_detector("tiny")
    checkpoint = tmp_path / "last.pt"
    torch.save({"model": net.state_dict(), "preset": "tiny"}, checkpoint)
    source = {"training": {"command": "boxpose train detector"}, "trained_on": {"train": "x"}}
    data = tmp_path / "val"
    write_dataset(data, 3, 11, 96, 80)

    reexport_detector(checkpoint, source, tmp_path / "store", "det", 96, data, "cmd")
    model = load_model("det", tmp_path / "store")
    manifest = model.manifest
    assert manifest["internal"]["input_long_side"] == 96 and net.config.input_long_side == 128
    assert manifest["training"]["command"] == "boxpose train detector"
    assert manifest["training"]["reexport"] == {
        "checkpoint": str(checkpoint), "input_long_side": 96, "trained_long_side": 128,
        "command": "cmd"}
    assert manifest["trained_on"] == {"train": "x"}
    # Same weights, other resolution: the module equals the eager net at 96, and its validation
    # figures are the ones measured on the data set.
    at_96 = build_detector(replace(net.config, input_long_side=96))
    at_96.load_state_dict(net.state_dict())
    image = torch.rand(1, 3, 80, 96 * 2) * 255
    torch.testing.assert_close(model.module(image), InferenceDetector(at_96.eval())(image))
    measured = evaluate_detector(model.module, read_coco_boxes(data))
    assert manifest["validation"]["ap50"] == measured.ap50
    assert manifest["validation"]["people"] == measured.people > 0
    assert manifest["recommended_score_threshold"] == measured.f1_threshold
    with pytest.raises(ValueError, match="too small"):
        reexport_detector(checkpoint, source, tmp_path / "store", "det", 8)
