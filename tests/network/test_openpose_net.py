"""OpenPose's network as presets: parameter names and shapes of body_pose_model.pth, Table III's
"6-stage VGG" count with AI Challenger's outputs, trainable with every stage's outputs."""

from __future__ import annotations

import pytest
import torch

from service.network.openpose import (
    OPENPOSE_PRESETS,
    OpenPoseConfig,
    OpenPoseInference,
    OpenPoseNet,
    expected_shapes,
)
from service.skeleton import AIC14, COCO18


def test_openpose_preset_has_the_files_names_and_loads_strictly() -> None:
    net = OpenPoseNet(OPENPOSE_PRESETS["openpose-vgg19"], COCO18)
    state = net.state_dict()
    shapes = expected_shapes(OPENPOSE_PRESETS["openpose-vgg19"])
    assert {k: tuple(v.shape) for k, v in state.items()} == shapes
    assert "model0.conv4_4_CPM.weight" in state and "model6_2.Mconv7_stage6_L2.bias" in state
    assert shapes["model2_1.Mconv1_stage2_L1.weight"] == (128, 185, 7, 7)
    net.load_state_dict(state, strict=True)  # the index buffers are not in the state dict


def test_vgg_6stage_is_table_iiis_baseline_and_trains() -> None:
    net = OpenPoseNet(OPENPOSE_PRESETS["vgg-6stage"], AIC14)
    assert sum(p.numel() for p in net.parameters()) == 51_289_398  # Table III: 51.29M
    image = torch.rand(2, 3, 21, 30) * 255
    outputs = net(image)
    assert len(outputs) == 6
    assert all(m.shape == (2, 15, 3, 4) and f.shape == (2, 26, 3, 4) for m, f in outputs)
    sum(m.square().mean() + f.square().mean() for m, f in outputs).backward()
    assert net.get_parameter("model0.conv1_1.weight").grad is not None
    with torch.inference_mode():  # the exported module: the last stage, nothing reordered
        maps, fields = OpenPoseInference(net.eval())(image)
        torch.testing.assert_close(maps, net(image)[-1][0], rtol=0, atol=0)


def test_unknown_outputs_are_refused() -> None:
    with pytest.raises(ValueError, match="outputs"):
        OpenPoseConfig(outputs="both")
