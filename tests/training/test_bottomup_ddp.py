"""`train_bottomup` under torchrun: two CPU processes (gloo) end with the same weights."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from service.data.sample import Sample
from service.data.tiles import build_tiles
from service.skeleton import AIC14


def tiny_tiles(path: Path) -> None:
    rng = np.random.default_rng(0)
    samples = []
    for _ in range(4):
        kp = np.zeros((1, AIC14.num_joints, 3), np.float32)
        kp[0, :, :2] = rng.uniform(20, 60, (AIC14.num_joints, 2))
        kp[0, :, 2] = 2
        box = np.concatenate([kp[0, :, :2].min(0), kp[0, :, :2].max(0)])[None]
        image = rng.integers(0, 255, (80, 80, 3), dtype=np.uint8)
        samples.append(Sample(image, kp, box.astype(np.float32), None))
    build_tiles(samples, 48, 1.5).save(path)


def test_two_processes_hold_the_same_weights(tmp_path):
    tiny_tiles(tmp_path / "tiles.npz")
    worker = Path(__file__).with_name("ddp_worker.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(worker),
           str(tmp_path / "tiles.npz"), str(tmp_path)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]
    assert ranks[0]["step"] == ranks[1]["step"] == 3
    first, second = ranks[0]["weights"], ranks[1]["weights"]
    assert first.keys() == second.keys() and len(first) > 100
    for key, value in first.items():
        assert torch.equal(value, second[key]), key
    assert (tmp_path / "run" / "last.pt").exists()
