"""The rebuilt BlazePose networks against the TFLite interpreter, and `boxpose import`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from service.cli import main
from service.importers.blazepose import fixed_inputs
from service.importers.blazepose_check import check_detector_net, check_landmark_net
from service.importers.tflite_graph import TfliteGraph
from service.network.blazepose import FEATURE_CHANNELS, landmark_net_from_tflite
from service.network.blazepose_detector import detector_net_from_tflite
from service.runtime.model_store import load_model

# max |ours - TFLite| allowed per output; outputs are up to ~1e3 (pixels, logits)
LANDMARK_TOLERANCE = {"landmarks": 0.05, "pose_flag": 1e-4, "segmentation": 2.0,
                      "heatmaps": 5e-3, "world": 1e-3}
DETECTOR_TOLERANCE = {"regressors": 0.01, "classifiers": 0.01}
pytestmark = pytest.mark.filterwarnings("ignore:Warning. Enabling .experimental_preserve")


def test_reader_folds_every_weight(tflite_files: dict[str, Path]) -> None:
    graph = TfliteGraph.load(tflite_files["detector"])
    counts = graph.op_counts()
    assert counts["DENSIFY"] == 38 and counts["DEQUANTIZE"] == 144
    for op in graph.ops:
        if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            weight = graph.constant(op.inputs[1])
            assert weight.dtype == np.float32 and weight.shape == graph.tensors[op.inputs[1]].shape


def test_densified_weights_equal_the_interpreters(tflite_files: dict[str, Path]) -> None:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    graph = TfliteGraph.load(tflite_files["detector"])
    interp = Interpreter(model_path=str(tflite_files["detector"]),  # no XNNPACK: it would not
                         experimental_preserve_all_tensors=True,  # keep the DENSIFY outputs
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], fixed_inputs(224, -1, 1)[0])
    interp.invoke()
    densify = [op for op in graph.all_ops if op.kind == "DENSIFY"]
    for op in densify[:5]:
        np.testing.assert_array_equal(graph.constant(op.outputs[0]),
                                      interp.get_tensor(op.outputs[0]))


def test_landmark_net_matches_tflite(tflite_files: dict[str, Path]) -> None:
    diffs = check_landmark_net(landmark_net_from_tflite(tflite_files["landmark"]),
                               tflite_files["landmark"])
    for name, tolerance in LANDMARK_TOLERANCE.items():
        assert diffs[name] < tolerance, (name, diffs)


def test_detector_net_matches_tflite(tflite_files: dict[str, Path]) -> None:
    diffs = check_detector_net(detector_net_from_tflite(tflite_files["detector"]),
                               tflite_files["detector"])
    for name, tolerance in DETECTOR_TOLERANCE.items():
        assert diffs[name] < tolerance, (name, diffs)


def test_features_are_the_heatmap_input_and_run_at_any_size(
        tflite_files: dict[str, Path]) -> None:
    from ai_edge_litert.interpreter import Interpreter

    net = landmark_net_from_tflite(tflite_files["landmark"])
    image = fixed_inputs(256, 0.0, 1.0)[1]
    interp = Interpreter(model_path=str(tflite_files["landmark"]),
                         experimental_preserve_all_tensors=True)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], image)
    interp.invoke()
    heat_op = next(op for op in TfliteGraph.load(tflite_files["landmark"]).ops
                   if op.outputs[0] == interp.get_output_details()[3]["index"])
    reference = interp.get_tensor(heat_op.inputs[0])  # (1, 64, 64, 48)
    with torch.inference_mode():
        features = net.features(torch.from_numpy(image).permute(0, 3, 1, 2))
        other = net.features(torch.rand(2, 3, 320, 192))
    assert np.abs(features.permute(0, 2, 3, 1).numpy() - reference).max() < 1e-3
    assert tuple(other.shape) == (2, FEATURE_CHANNELS, 80, 48)


@pytest.mark.slow
def test_import_command_writes_checked_models(wheel: Path, interpreter_available: None,
                                              tmp_path: Path) -> None:
    assert main(["import", "blazepose", "--wheel", str(wheel), "--model-store",
                 str(tmp_path)]) == 0
    for name in ("blazepose-topdown", "blazepose-detector"):
        manifest = json.loads((tmp_path / name / "manifest.json").read_text())
        assert manifest["licence"]["name"] == "Apache-2.0"
        assert manifest["source"]["wheel"] == wheel.name
        assert len(manifest["source"]["wheel_sha256"]) == 64
        assert manifest["changes"] and manifest["validation"]["torchscript_max_abs_diff"] == 0
        assert (tmp_path / name / "model.pt").stat().st_size < 25 * 1024 * 1024
        assert load_model(name, tmp_path).kind == manifest["kind"]


def test_import_refuses_a_missing_wheel(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["import", "blazepose", "--wheel", str(tmp_path / "nope.whl")]) == 2
    assert "no wheel" in capsys.readouterr().err
