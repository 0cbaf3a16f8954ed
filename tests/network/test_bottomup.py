"""The bottom-up net with its box head: shapes at any size, TorchScript equals eager."""

import torch

from service.network.bottomup import BottomUpConfig, BottomUpInference, BottomUpNet
from service.network.trunks import blazepose_trunk
from service.skeleton import AIC14


def small_net() -> BottomUpNet:
    torch.manual_seed(0)
    trunk = blazepose_trunk()
    cfg = BottomUpConfig(width=16, stage1_blocks=1, stage2_blocks=1, box_blocks=1, max_boxes=7)
    return BottomUpNet(cfg, AIC14, trunk, trunk.channels, trunk.pad_multiple).eval()


def test_shapes_at_any_size():
    net = small_net()
    with torch.no_grad():
        outputs, raw = net(torch.rand(2, 3, 70, 101) * 255)
    assert len(outputs) == 2
    maps, fields = outputs[-1]
    assert maps.shape == (2, AIC14.num_maps, 18, 26)
    assert fields.shape == (2, AIC14.num_field_channels, 18, 26)
    assert raw.shape == (2, 3, 18, 26)


def test_torchscript_round_trip(tmp_path):
    module = BottomUpInference(small_net()).eval()
    scripted = torch.jit.script(module)
    torch.jit.save(scripted, str(tmp_path / "m.pt"))
    loaded = torch.jit.load(str(tmp_path / "m.pt"))
    image = torch.rand(1, 3, 96, 128) * 255
    with torch.no_grad():
        expected, got = module(image), loaded(image)
    for a, b in zip(expected, got, strict=True):
        assert torch.allclose(a, b, atol=1e-5)
    assert got[2].shape == (1, 7, 5)


def test_lite_trunk_gives_stride_4_features_and_scripts():
    from service.network.trunks import LiteTrunk

    torch.manual_seed(0)
    trunk = LiteTrunk().eval()
    with torch.no_grad():
        feats = trunk.features(torch.rand(1, 3, 64, 96))
    assert feats.shape == (1, trunk.channels, 16, 24) and trunk.channels == 96
    cfg = BottomUpConfig(width=16, stage1_blocks=1, stage2_blocks=1, box_blocks=1, max_boxes=5)
    net = BottomUpNet(cfg, AIC14, trunk, trunk.channels, trunk.pad_multiple).eval()
    with torch.no_grad():
        (_, (maps, fields)), raw = net(torch.rand(1, 3, 70, 101) * 255)
    assert maps.shape == (1, AIC14.num_maps, 18, 26) and raw.shape == (1, 3, 18, 26)
    scripted = torch.jit.script(BottomUpInference(net).eval())
    assert scripted(torch.rand(1, 3, 64, 64) * 255)[2].shape == (1, 5, 5)
