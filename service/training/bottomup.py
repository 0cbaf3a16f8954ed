"""Training the bottom-up net with its box head on real people: tile caches -> mosaics -> Adam
on Eq. 8 + box loss -> checkpoints (resumable) -> the exported model.

Runs as one process, or under `torchrun --nproc_per_node N` (DistributedDataParallel: gloo on
CPUs, NCCL on GPUs); each rank draws its own mosaics, gradients are averaged, rank 0 writes.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader

from service.data.mosaic_dataset import MosaicDataConfig, MosaicDataset
from service.data.tiles import TileSet
from service.network.bottomup import BottomUpNet
from service.skeleton import Skeleton
from service.training.box_loss import total_loss
from service.training.checkpoint import Progress, load_checkpoint, save_checkpoint
from service.training.curves import append_csv
from service.training.schedule import warmup_cosine


@dataclass(frozen=True)
class BottomUpTrainConfig:
    tiles: tuple[Path, ...]  # tile caches (service.data.tiles), concatenated
    run_dir: Path
    batch_size: int = 16
    max_steps: int = 20000
    schedule_steps: int = 20000  # cosine decay horizon
    # The step the cosine starts from (at `learning_rate`): a later leg may anneal a long run
    # early, from the rate it had reached, instead of waiting for the original horizon.
    cosine_from: int = 0
    warmup_steps: int = 300
    learning_rate: float = 1e-3
    trunk_lr_factor: float = 0.3  # the pretrained trunk moves slower than the new heads
    weight_decay: float = 0.0
    background_weight: float = 0.05
    foreground_weight: float = 10.0
    # The summed pose error is ~10,000 per image, the box loss ~3: at 10 (sessions 5-6) the box
    # term was 0.3% of the total and the shared layers learnt nothing for it; 1,000 (~25%) won a
    # side-by-side of 250 steps on box and pose scores alike (docs/models.md).
    box_weight: float = 1000.0
    checkpoint_minutes: float = 5.0
    threads: int = 0  # torch threads per process; 0 = torch's default
    workers: int = 1
    data: MosaicDataConfig = field(default_factory=MosaicDataConfig)
    resume: bool = True
    init_checkpoint: Path | None = None
    # Exponential moving average of the weights (and batch-norm statistics), updated after every
    # step, saved in the checkpoint and exported: single checkpoints of one run scattered on the
    # dev split (PCK 0.47 -> 0.39 -> 0.43 over 1,700 steps); 0 keeps no average.
    ema_decay: float = 0.999
    # Trunk modules kept as imported: the stride-2/4 layers are generic edge and texture
    # filters and the most expensive to back-propagate through at full resolution.
    frozen: tuple[str, ...] = ("stem", "block0", "stage4", "lat4")


def _distributed() -> tuple[int, int]:
    """(rank, world size); initialises the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def _optimizer(net: BottomUpNet, cfg: BottomUpTrainConfig) -> torch.optim.Optimizer:
    for name in cfg.frozen:
        for p in getattr(net.trunk, name).parameters():
            p.requires_grad_(False)
    trunk = [p for p in net.trunk.parameters() if p.requires_grad]
    trunk_ids = {id(p) for p in net.trunk.parameters()}
    heads = [p for p in net.parameters() if id(p) not in trunk_ids]
    return torch.optim.Adam(
        [{"params": heads, "lr_factor": 1.0}, {"params": trunk, "lr_factor": cfg.trunk_lr_factor}],
        lr=cfg.learning_rate, weight_decay=cfg.weight_decay,
    )


def train_bottomup(net: BottomUpNet, skeleton: Skeleton, cfg: BottomUpTrainConfig) -> Progress:
    """Train `net` in place until `max_steps`; returns the progress reached."""
    rank, world = _distributed()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = torch.device(f"cuda:{rank % torch.cuda.device_count()}"
                          if torch.cuda.is_available() else "cpu")  # fmt: skip
    net.to(device)
    optimizer = _optimizer(net, cfg)
    # Until its first update (it copies the weights then) the average holds nothing of use.
    averaged = (AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay),
                              use_buffers=True) if cfg.ema_decay > 0 else None)  # fmt: skip
    progress = Progress()
    last = cfg.run_dir / "last.pt"
    if cfg.resume and last.exists():
        progress = load_checkpoint(last, net, optimizer, averaged)
        print(f"resumed from {last}: step {progress.step}")
    elif cfg.init_checkpoint is not None:
        load_checkpoint(cfg.init_checkpoint, net)
    model: torch.nn.Module = net
    if world > 1:
        model = DistributedDataParallel(net, device_ids=[device.index] if device.index is not
                                        None else None)  # fmt: skip
    tiles = TileSet.concat([TileSet.load(p) for p in cfg.tiles])
    loader = DataLoader(MosaicDataset(tiles, skeleton, cfg.data, rank), batch_size=cfg.batch_size,
                        num_workers=cfg.workers, persistent_workers=cfg.workers > 0)
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    last_save, started, first_step = time.monotonic(), time.monotonic(), progress.step
    net.train()
    for batch in loader:
        if progress.step >= cfg.max_steps:
            break
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        parts = _step(model, optimizer, batch, cfg, progress.step)
        if averaged is not None:
            averaged.update_parameters(net)
        progress.step += 1
        if rank == 0:
            append_csv(cfg.run_dir / "steps.csv", {"step": progress.step, **parts,
                       "lr": optimizer.param_groups[0]["lr"], "time": round(time.time(), 1)})
            if time.monotonic() - last_save > cfg.checkpoint_minutes * 60:
                save_checkpoint(last, net, optimizer, progress, averaged=averaged)
                last_save = time.monotonic()
                rate = (progress.step - first_step) / max(time.monotonic() - started, 1e-9)
                print(f"step {progress.step}: loss {parts['loss']:.2f} ({rate:.2f} steps/s)",
                      flush=True)
    if rank == 0:
        save_checkpoint(last, net, optimizer, progress, averaged=averaged)
    return progress


def _step(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
          batch: dict[str, torch.Tensor], cfg: BottomUpTrainConfig, step: int) -> dict[str, float]:
    rate = warmup_cosine(step, cfg.learning_rate, cfg.warmup_steps, cfg.schedule_steps,
                         cosine_from=cfg.cosine_from)
    for group in optimizer.param_groups:
        group["lr"] = rate * group["lr_factor"]
    outputs, raw_boxes = model(batch["image"])
    loss, parts = total_loss(outputs, raw_boxes, batch, cfg.background_weight,
                             cfg.foreground_weight, cfg.box_weight)  # fmt: skip
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return {"loss": round(float(loss.detach()), 4), **{k: round(v, 4) for k, v in parts.items()}}
