"""The moving average of the weights that `train_bottomup` keeps: the EMA equation across a
resume, and `boxpose export` exporting it (or the last step's weights when asked)."""

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from service.data.mosaic import MosaicConfig
from service.data.mosaic_dataset import MosaicDataConfig
from service.network.bottomup import BottomUpConfig, BottomUpInference, BottomUpNet
from service.network.trunks import blazepose_trunk
from service.skeleton import AIC14
from service.training.bottomup import BottomUpTrainConfig, train_bottomup
from service.training.checkpoint import exported_weights
from tests.training.test_bottomup_ddp import tiny_tiles


def small_net(seed: int) -> BottomUpNet:
    torch.manual_seed(seed)
    trunk = blazepose_trunk()
    cfg = BottomUpConfig(width=8, stage1_blocks=1, stage2_blocks=1, box_blocks=1)
    return BottomUpNet(cfg, AIC14, trunk, trunk.channels, trunk.pad_multiple)


def train(tiles: Path, run_dir: Path, steps: int, decay: float) -> None:
    cfg = BottomUpTrainConfig(
        tiles=(tiles,), run_dir=run_dir, batch_size=2, max_steps=steps, warmup_steps=0,
        schedule_steps=0, learning_rate=1e-2, threads=1, workers=0, ema_decay=decay,
        data=replace(MosaicDataConfig(), mosaic=MosaicConfig(size=64)),
    )
    train_bottomup(small_net(0), AIC14, cfg)


def test_average_follows_the_ema_equation_across_a_resume(tmp_path):
    tiles = tmp_path / "tiles.npz"
    tiny_tiles(tiles)
    run = tmp_path / "run"
    train(tiles, run, steps=1, decay=0.75)
    first = torch.load(run / "last.pt", weights_only=False)
    w1 = first["model"]
    # after one update the average is the weights themselves (stored as float16)
    avg1 = exported_weights(first)
    for key, value in w1.items():
        if value.is_floating_point():
            assert torch.allclose(avg1[key], value, rtol=1e-3, atol=1e-4), key
    train(tiles, run, steps=2, decay=0.75)  # resumes at step 1
    second = torch.load(run / "last.pt", weights_only=False)
    assert second["progress"]["step"] == 2
    w2, avg2 = second["model"], exported_weights(second)
    moved = 0
    for key, value in w2.items():
        if not value.is_floating_point():
            continue
        expected = 0.75 * avg1[key] + 0.25 * value  # EMA: decay x average + (1 - decay) x new
        assert torch.allclose(avg2[key], expected, rtol=2e-3, atol=2e-4), key
        moved += int(not torch.equal(value, w1[key]))
    assert moved > 50  # the step did change the weights, so the equation was tested
    assert exported_weights(second, "last").keys() == w2.keys()


def test_no_average_when_the_decay_is_zero(tmp_path):
    tiny_tiles(tmp_path / "tiles.npz")
    train(tmp_path / "tiles.npz", tmp_path / "run", steps=1, decay=0.0)
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    assert "ema" not in state
    assert exported_weights(state).keys() == state["model"].keys()
    with pytest.raises(ValueError, match="average"):
        exported_weights(state, "best")


def test_export_takes_the_average_unless_told_otherwise(tmp_path):
    from torch.optim.swa_utils import AveragedModel

    from service.cli import main
    from service.runtime.model_store import load_model
    from service.training.checkpoint import _half

    torch.manual_seed(0)
    trunk = blazepose_trunk()
    last = BottomUpNet(BottomUpConfig(), AIC14, trunk, trunk.channels, trunk.pad_multiple)
    torch.manual_seed(1)
    trunk = blazepose_trunk()
    other = BottomUpNet(BottomUpConfig(), AIC14, trunk, trunk.channels, trunk.pad_multiple)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(0.05 * torch.randn_like(p))
    average = AveragedModel(other, use_buffers=True)
    average.update_parameters(other)
    torch.save({"model": last.state_dict(), "ema": _half(average.state_dict()),
                "progress": {"step": 3}}, tmp_path / "c.pt")  # fmt: skip
    image = torch.rand(1, 3, 64, 96) * 255
    for which, source in (("average", other), ("last", last)):
        assert main(["export", "--preset", "bottomup-blazepose", "--checkpoint",
                     str(tmp_path / "c.pt"), "--name", f"pr-{which}", "--store",
                     str(tmp_path / "store"), "--weights", which]) == 0  # fmt: skip
        model = load_model(f"pr-{which}", tmp_path / "store")
        expected = BottomUpInference(source.eval())(image)[0]
        got = model.module(image)[0]
        tolerance = 0.05 if which == "average" else 1e-4  # the average is stored as float16
        assert torch.allclose(got, expected, atol=tolerance), which
        assert model.manifest["training"]["weights"] == (
            "last step" if which == "last" else "moving average (decay per step in the recipe)")


def test_a_resumed_leg_follows_its_own_cosine(tmp_path):
    """`cosine_from` reaches the optimiser: the rates logged per step follow the equation."""
    import csv
    import math

    tiles = tmp_path / "tiles.npz"
    tiny_tiles(tiles)
    run = tmp_path / "run"
    train(tiles, run, steps=1, decay=0.0)
    cfg = BottomUpTrainConfig(
        tiles=(tiles,), run_dir=run, batch_size=2, max_steps=3, warmup_steps=0,
        schedule_steps=3, cosine_from=1, learning_rate=4e-3, threads=1, workers=0,
        ema_decay=0.0, data=replace(MosaicDataConfig(), mosaic=MosaicConfig(size=64)),
    )
    train_bottomup(small_net(0), AIC14, cfg)
    with open(run / "steps.csv") as f:
        rates = {int(r["step"]): float(r["lr"]) for r in csv.DictReader(f)}
    assert rates[1] == pytest.approx(1e-2)  # the first leg: constant 1e-2
    assert rates[2] == pytest.approx(4e-3)  # optimiser step 1 = the cosine's start
    assert rates[3] == pytest.approx(4e-3 * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi / 2))))
