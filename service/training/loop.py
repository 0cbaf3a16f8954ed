"""The training loop: samples -> Adam on Eq. 8 -> checkpoints, validation AP, the exported model."""

from __future__ import annotations

import dataclasses
import shlex
import sys
import time
from typing import Any

import torch
from torch.utils.data import ConcatDataset, DataLoader
from tqdm import tqdm

from service.network import build_network, export_model, load_backbone_weights
from service.network.net import PoseNet, StagedNet
from service.skeleton import SKELETONS, Skeleton
from service.training.checkpoint import Progress, load_checkpoint, save_checkpoint
from service.training.config import TrainConfig
from service.training.curves import append_csv, plot_curves
from service.training.loss import total_loss
from service.training.schedule import warmup_cosine
from service.training.validate import validate


def build_loader(cfg: TrainConfig, skeleton: Skeleton, stride: int) -> DataLoader:
    from service.data.augment import AugmentConfig
    from service.data.coco import CocoKeypoints
    from service.data.dataset import DatasetConfig, PoseDataset
    from service.targets import TargetConfig

    data_cfg = DatasetConfig(
        augment=AugmentConfig(
            size=cfg.crop_size, p_person=cfg.p_person,
            person_height=(cfg.min_person, cfg.max_person),
        ),
        targets=TargetConfig(
            stride=stride, sigma=cfg.sigma, delta=cfg.delta, relative_sigma=cfg.relative_sigma
        ),
    )
    sources = [CocoKeypoints(cfg.train_annotations, cfg.train_images, skip_empty=True)]
    sources += [CocoKeypoints(d / "annotations.json", d / "images", skip_empty=True)
                for d in cfg.extra_train]  # fmt: skip
    dataset: ConcatDataset[dict[str, torch.Tensor]] = ConcatDataset(
        [PoseDataset(s, data_cfg, skeleton) for s in sources]
    )
    return DataLoader(
        dataset, batch_size=cfg.batch_size, shuffle=True,
        drop_last=True, num_workers=cfg.workers, persistent_workers=cfg.workers > 0,
        generator=torch.Generator().manual_seed(cfg.seed),
    )


def _prepare(cfg: TrainConfig) -> tuple[StagedNet, torch.optim.Optimizer, Progress, Skeleton]:
    torch.manual_seed(cfg.seed)
    skeleton = SKELETONS[cfg.skeleton]
    net = build_network(cfg.preset, skeleton)
    if cfg.backbone_weights is not None:
        if not isinstance(net, PoseNet):
            raise ValueError(f"--backbone-weights loads ResNet weights; preset {cfg.preset!r} "
                             "has a VGG front")
        load_backbone_weights(net, torch.load(cfg.backbone_weights, map_location="cpu"))
    optimizer = torch.optim.Adam(
        net.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay
    )
    progress = Progress()
    last = cfg.run_dir / "last.pt"
    if cfg.resume and last.exists():
        progress = load_checkpoint(last, net, optimizer)  # the schedule sets each step's rate
        print(f"resumed from {last}: epoch {progress.epoch}, step {progress.step}")
    elif cfg.init_checkpoint is not None:
        start = load_checkpoint(cfg.init_checkpoint, net)  # weights only
        print(f"initialised from {cfg.init_checkpoint} (its step {start.step})")
    return net, optimizer, progress, skeleton


def train(cfg: TrainConfig) -> Progress:
    """Train until `epochs` or `max_steps`; returns the final progress."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    net, optimizer, progress, skeleton = _prepare(cfg)
    loader = build_loader(cfg, skeleton, net.output_stride)
    twins = (skeleton.flip_permutation, skeleton.limb_flip_permutation)
    command = " ".join(shlex.quote(a) for a in ["boxpose", *sys.argv[1:]])
    last_save = time.monotonic()
    while progress.epoch < cfg.epochs and not _done(cfg, progress):
        net.train()
        bar = tqdm(loader, desc=f"epoch {progress.epoch + 1}/{cfg.epochs}", mininterval=10)
        for batch in bar:
            loss = _step(net, optimizer, batch, cfg, progress.step, twins)
            progress.step += 1
            bar.set_postfix(loss=f"{loss:.3f}")
            append_csv(cfg.run_dir / "steps.csv", {"step": progress.step, "loss": loss,
                                                   "lr": optimizer.param_groups[0]["lr"]})
            if time.monotonic() - last_save > cfg.checkpoint_minutes * 60:
                save_checkpoint(cfg.run_dir / "last.pt", net, optimizer, progress)
                last_save = time.monotonic()
            if _done(cfg, progress):
                break
        progress.epoch += 1
        _end_of_epoch(cfg, net, optimizer, progress, skeleton, command)
    return progress


def _done(cfg: TrainConfig, progress: Progress) -> bool:
    return cfg.max_steps > 0 and progress.step >= cfg.max_steps


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up, then constant or a cosine decay (from step 0) to 2% at `schedule_steps`."""
    return warmup_cosine(step, cfg.learning_rate, cfg.warmup_steps, cfg.schedule_steps)


def _step(
    net: StagedNet, optimizer: torch.optim.Optimizer, batch: dict[str, torch.Tensor],
    cfg: TrainConfig, step: int, twins: tuple[tuple[int, ...], tuple[int, ...]],
) -> float:
    for group in optimizer.param_groups:
        group["lr"] = learning_rate(cfg, step)
    outputs = net(batch["image"])
    loss = total_loss(
        outputs, batch["maps"], batch["fields"], batch["mask"], cfg.background_weight,
        cfg.foreground_weight, cfg.twin_weight, twins,
    )
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def _end_of_epoch(
    cfg: TrainConfig, net: StagedNet, optimizer: torch.optim.Optimizer, progress: Progress,
    skeleton: Skeleton, command: str,
) -> None:
    scores = validate(net, cfg.val_annotations, cfg.val_images, skeleton, cfg.val_limit)
    append_csv(
        cfg.run_dir / "epochs.csv",
        {"epoch": progress.epoch, "step": progress.step, "time": time.time(),
         **{k: round(v, 4) for k, v in scores.items()}},
    )  # fmt: skip
    print(f"epoch {progress.epoch}: " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items()))
    if scores["AP"] > progress.best_ap:
        progress.best_ap, progress.best_epoch = scores["AP"], progress.epoch
        save_checkpoint(cfg.run_dir / "best.pt", net, optimizer, progress)
        _export(cfg, net, skeleton, scores, progress, command)
    save_checkpoint(cfg.run_dir / "last.pt", net, optimizer, progress)
    plot_curves(cfg.run_dir / "steps.csv", cfg.run_dir / "epochs.csv", cfg.run_dir / "curves.png")


def _export(
    cfg: TrainConfig, net: StagedNet, skeleton: Skeleton, scores: dict[str, float],
    progress: Progress, command: str,
) -> None:
    import json

    from service.runtime.model_store import default_store

    files = [cfg.train_annotations] + [d / "annotations.json" for d in cfg.extra_train]
    sets = [{"annotations": str(f), "info": json.loads(f.read_text()).get("info", {})}
            for f in files]  # fmt: skip
    settings: dict[str, Any] = json.loads(json.dumps(dataclasses.asdict(cfg), default=str))
    export_model(
        net.eval(), cfg.model_store or default_store(), cfg.export_name, skeleton,
        trained_on={"sets": sets},
        validation={
            "annotations": str(cfg.val_annotations),
            "protocol": "single scale, ground-truth boxes, pycocotools, AIC sigmas",
            **{k: round(v, 4) for k, v in scores.items()},
        },
        training={"command": command, "steps": progress.step, "epoch": progress.epoch,
                  "config": settings},
    )  # fmt: skip
    net.train()
