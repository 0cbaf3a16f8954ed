"""Run by torchrun in tests/training/test_bottomup_ddp.py: a few bottom-up training steps on
fabricated tiles, then each rank saves the weights (parameters) it holds (batch-norm running
statistics stay per rank between DDP's broadcasts from rank 0). Every rank starts from different
random weights: DistributedDataParallel must make them equal."""

import os
import sys
from dataclasses import replace
from pathlib import Path

import torch

from service.data.mosaic import MosaicConfig
from service.data.mosaic_dataset import MosaicDataConfig
from service.network.bottomup import BottomUpConfig, BottomUpNet
from service.network.trunks import blazepose_trunk
from service.skeleton import AIC14
from service.training.bottomup import BottomUpTrainConfig, train_bottomup


def main(tiles: Path, out: Path) -> None:
    rank = int(os.environ["RANK"])
    torch.manual_seed(100 + rank)
    trunk = blazepose_trunk()
    cfg = BottomUpConfig(width=8, stage1_blocks=1, stage2_blocks=1, box_blocks=1)
    net = BottomUpNet(cfg, AIC14, trunk, trunk.channels, trunk.pad_multiple)
    train_cfg = BottomUpTrainConfig(
        tiles=(tiles,), run_dir=out / "run", batch_size=2, max_steps=3, warmup_steps=0,
        schedule_steps=0, learning_rate=1e-2, threads=1, workers=0, resume=False,
        data=replace(MosaicDataConfig(), mosaic=MosaicConfig(size=64)),
    )
    progress = train_bottomup(net, AIC14, train_cfg)
    weights = {k: v.detach() for k, v in net.named_parameters()}
    torch.save({"step": progress.step, "weights": weights}, out / f"rank{rank}.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
