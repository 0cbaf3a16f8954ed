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


def test_export_command_writes_the_box_head_and_manifest_extra(tmp_path):
    import json

    from service.cli import main
    from service.network.trunks import LiteTrunk
    from service.runtime.factory import load_pipeline
    from service.runtime.model_store import load_model

    for name, trunk in (("real", blazepose_trunk()), ("lite", LiteTrunk())):
        net = BottomUpNet(BottomUpConfig(), AIC14, trunk, trunk.channels, trunk.pad_multiple)
        torch.save({"model": net.state_dict(), "progress": {"step": 7}}, tmp_path / f"{name}.pt")
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"box_head": {"recommended_score_threshold": 0.21},
                                 "training": {"recipe": "r"}}))
    for name in ("real", "lite"):
        assert main(["export", "--preset", "bottomup-blazepose", "--checkpoint",
                     str(tmp_path / f"{name}.pt"), "--name", f"pose-{name}", "--store",
                     str(tmp_path / "store"), "--manifest-extra", str(extra)]) == 0
        manifest = load_model(f"pose-{name}", tmp_path / "store").manifest
        head = manifest["box_head"]
        assert head["recommended_score_threshold"] == 0.21 and "CenterNet" in head["kind"]
        assert manifest["training"] == {"recipe": "r", "steps": 7, "weights": "last step"}
        pipeline = load_pipeline(f"pose-{name}", None, store=tmp_path / "store")
        assert pipeline.box_head and pipeline.box_threshold == 0.21
