"""Every trainer's checkpoints go through service/training/checkpoint.py: the committed
checkpoints (bottom-up pose-real, detector-lite: the detector's older layout) still resume, and a
detector run's checkpoint round-trips."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from service.detector.net import build_detector
from service.detector.train import (
    DetectorTrainConfig,
    Progress,
    Run,
    load_checkpoint,
    save_checkpoint,
)
from service.network.bottomup import BottomUpConfig, BottomUpNet
from service.network.trunks import blazepose_trunk
from service.skeleton import AIC14
from service.training import checkpoint
from service.training.bottomup import BottomUpTrainConfig, _optimizer

CHECKPOINTS = Path(__file__).resolve().parents[2] / "checkpoints"


def test_pose_real_resumes_with_its_optimiser_and_average(tmp_path: Path) -> None:
    trunk = blazepose_trunk()
    net = BottomUpNet(BottomUpConfig(), AIC14, trunk, trunk.channels, trunk.pad_multiple)
    cfg = BottomUpTrainConfig(tiles=(), run_dir=tmp_path)
    optimizer = _optimizer(net, cfg)  # as train_bottomup builds them before resuming
    averaged = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay),
                             use_buffers=True)  # fmt: skip
    progress = checkpoint.load_checkpoint(CHECKPOINTS / "pose-real-last.pt", net, optimizer,
                                          averaged)  # fmt: skip
    assert progress.step == 14800
    assert len(optimizer.state) > 0  # Adam's moments came back
    assert int(averaged.n_averaged) > 0


def _run(tmp_path: Path) -> Run:
    cfg = DetectorTrainConfig(train_dir=tmp_path, val_dir=tmp_path, preset="lite")
    net = build_detector("lite")
    return Run(cfg, net, torch.optim.Adam(net.parameters()), Progress(), [], [], "", (384, 512))


def test_detector_lite_resumes_from_its_older_layout(tmp_path: Path) -> None:
    run = _run(tmp_path)
    load_checkpoint(CHECKPOINTS / "detector-lite-last.pt", run)
    assert (run.progress.step, run.progress.best_epoch) == (3375, 8)
    assert len(run.optimizer.state) > 0
    legacy = checkpoint.read_checkpoint(CHECKPOINTS / "detector-lite-last.pt")
    assert checkpoint.extra_of(legacy)["preset"] == "lite"  # top level, before "extra"


def test_detector_checkpoint_round_trips(tmp_path: Path) -> None:
    run = _run(tmp_path)
    run.progress = Progress(epoch=2, batch=5, step=41, best_ap50=0.25, best_epoch=1, seconds=9.5)
    save_checkpoint(tmp_path / "last.pt", run)
    again = _run(tmp_path)
    load_checkpoint(tmp_path / "last.pt", again)
    assert again.progress == run.progress
    state = checkpoint.read_checkpoint(tmp_path / "last.pt")
    assert checkpoint.extra_of(state) == {"preset": "lite"}
    for key, value in run.net.state_dict().items():
        assert torch.equal(again.net.state_dict()[key], value)
