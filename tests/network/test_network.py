"""Contracts of the network: output shapes, stage count, TorchScript round trip, weight loading."""

import dataclasses

import pytest
import torch

from service.network import PRESETS, build_network, load_backbone_weights
from service.network.export import export_model
from service.network.net import InferenceNet, count_parameters
from service.skeleton import AIC14, COCO18


@pytest.mark.parametrize("size", [(64, 64), (67, 93), (100, 41), (33, 129)])
@pytest.mark.parametrize("preset", ["tiny", "lite"])
def test_output_shapes_any_size(preset, size):
    net = build_network(preset, AIC14).eval()
    h, w = size
    with torch.no_grad():
        outputs = net(torch.rand(2, 3, h, w) * 255)
    assert len(outputs) == PRESETS[preset].head.stages
    s = net.output_stride
    for maps, fields in outputs:
        assert maps.shape == (2, AIC14.num_maps, -(-h // s), -(-w // s))
        assert fields.shape == (2, AIC14.num_field_channels, -(-h // s), -(-w // s))


def test_channels_follow_the_skeleton():
    net = build_network("tiny", COCO18).eval()
    with torch.no_grad():
        maps, fields = net(torch.zeros(1, 3, 32, 32))[-1]
    assert maps.shape[1] == 19 and fields.shape[1] == 2 * 17


def test_paper_presets_strides_and_sizes():
    assert PRESETS["paper"].output_stride == 4
    assert PRESETS["paper"].feature_stride == 8
    assert PRESETS["paper-3stage-no-upsample"].output_stride == 8
    # Table III: 27.42M (3-stage + 2x); within 5%.
    params = count_parameters(build_network("paper", AIC14))
    assert abs(params / 27.42e6 - 1) < 0.05


def test_torchscript_round_trip_equals_eager(tmp_path):
    torch.manual_seed(0)
    net = build_network("tiny", AIC14).eval()
    model_dir = export_model(net, tmp_path, "tiny-test", AIC14)
    scripted = torch.jit.load(str(model_dir / "model.pt"))
    x = torch.rand(1, 3, 57, 75) * 255
    with torch.no_grad():
        eager_maps, eager_fields = InferenceNet(net).eval()(x)
        maps, fields = scripted(x)
    assert torch.allclose(maps, eager_maps, atol=1e-5)
    assert torch.allclose(fields, eager_fields, atol=1e-5)


def test_head_batch_norm_option_scripts_and_matches_eager(tmp_path):
    torch.manual_seed(0)
    tiny = PRESETS["tiny"]
    cfg = dataclasses.replace(tiny, name="tiny-bn", head=dataclasses.replace(tiny.head, norm=True))
    net = build_network(cfg, AIC14)
    norms = [m for m in net.head.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    # reduce + per branch (first_convs or refine_convs, the 1x1 hidden conv, the deconvolution)
    per_stage = [tiny.head.first_convs + 2] + [tiny.head.refine_convs + 2] * (tiny.head.stages - 1)
    assert len(norms) == 1 + 2 * sum(per_stage)
    net.train()
    with torch.no_grad():  # move the running statistics away from their initial values
        net(torch.rand(4, 3, 48, 48) * 255)
    net.eval()
    model_dir = export_model(net, tmp_path, "tiny-bn", AIC14)
    scripted = torch.jit.load(str(model_dir / "model.pt"))
    x = torch.rand(1, 3, 41, 59) * 255
    with torch.no_grad():
        assert torch.allclose(scripted(x)[0], InferenceNet(net)(x)[0], atol=1e-5)


def test_loads_torchvision_named_weights():
    net = build_network("tiny", AIC14)
    # A state dict as torchvision would write it (module names of its ResNet), with a classifier.
    fabricated = {k: torch.full_like(v, 0.5) for k, v in net.backbone.state_dict().items()}
    fabricated["fc.weight"] = torch.zeros(1000, 16)
    loaded, skipped = load_backbone_weights(net, fabricated)
    assert "layer1.0.conv1.weight" in loaded and "conv1.weight" in loaded
    assert skipped == ["fc.weight"]
    assert torch.all(net.backbone.layer3[0].conv2.weight == 0.5)


def test_rejects_state_dict_with_nothing_matching():
    net = build_network("tiny", AIC14)
    with pytest.raises(ValueError, match="no backbone weights"):
        load_backbone_weights(net, {"conv1.weight": torch.zeros(3, 3)})
