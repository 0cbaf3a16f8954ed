"""Box-annotated images -> a trained detector: CenterNet loss, Adam, checkpoints, AP50, export.

Each epoch visits the training images in a seeded order (so a run resumed mid-epoch skips the
batches it already did), validates box AP50 with pycocotools, and exports the best epoch to the
model store with the command, data seed, steps and validation figures in the manifest.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from service.detector.config import DETECTOR_PRESETS
from service.detector.data import AugmentConfig, BoxRecord, make_batch, read_coco_boxes
from service.detector.decode import InferenceDetector, padded_size, working_size
from service.detector.evaluate import BoxAP, evaluate_detector
from service.detector.export import export_detector
from service.detector.loss import detector_loss
from service.detector.net import DetectorNet, build_detector
from service.runtime.model_store import MODEL_STORE
from service.training import checkpoint
from service.training.curves import append_csv, plot_curves
from service.training.schedule import warmup_cosine


@dataclass(frozen=True)
class DetectorTrainConfig:
    train_dir: Path
    val_dir: Path
    preset: str = "lite"
    runs_dir: Path = Path("runs/detector")
    store: Path = MODEL_STORE
    name: str = "detector-lite"
    epochs: int = 24
    batch_size: int = 16
    lr: float = 2e-3
    warmup_steps: int = 300
    final_lr_fraction: float = 0.02  # cosine decay down to lr * this
    seed: int = 0
    threads: int = 1
    checkpoint_minutes: float = 5.0
    max_steps: int | None = None  # stop after this many steps in total (tests, smoke runs)
    train_limit: int | None = None
    val_limit: int | None = None
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    # Training canvas (height, width); None: the first training image's shape at the working
    # resolution, rounded up to the padding multiple (what inference sees for such images).
    canvas_size: tuple[int, int] | None = None


def training_canvas(cfg: DetectorTrainConfig, first: BoxRecord) -> tuple[int, int]:
    if cfg.canvas_size is not None:
        return cfg.canvas_size
    det = DETECTOR_PRESETS[cfg.preset]
    return padded_size(*working_size(first.height, first.width, det.input_long_side),
                       det.pad_multiple)


@dataclass
class Progress:
    epoch: int = 0  # epochs completed
    batch: int = 0  # batches done in the current epoch
    step: int = 0
    best_ap50: float = -1.0
    best_epoch: int = -1
    seconds: float = 0.0  # training time over all runs


@dataclass
class Run:
    cfg: DetectorTrainConfig
    net: DetectorNet
    optimizer: torch.optim.Optimizer
    progress: Progress
    train: list[BoxRecord]
    val: list[BoxRecord]
    command: str
    canvas: tuple[int, int]
    last_save: float = field(default_factory=time.monotonic)
    clock: float = field(default_factory=time.monotonic)  # training time counted up to here

    def tick(self) -> None:
        now = time.monotonic()
        self.progress.seconds += now - self.clock
        self.clock = now


def learning_rate(cfg: DetectorTrainConfig, step: int, total: int) -> float:
    """Linear warm-up, then cosine decay (from the end of the warm-up) to `final_lr_fraction`."""
    return warmup_cosine(step, cfg.lr, cfg.warmup_steps, total, cfg.final_lr_fraction,
                         cosine_from=cfg.warmup_steps)


def save_checkpoint(path: Path, run: Run) -> None:
    """The run's checkpoint (service/training/checkpoint.py), its preset among the extras."""
    checkpoint.save_checkpoint(path, run.net, run.optimizer, run.progress,
                               extra={"preset": run.cfg.preset})


def load_checkpoint(path: Path, run: Run) -> None:
    run.progress = Progress(**checkpoint.restore_checkpoint(path, run.net, run.optimizer))


def _batches_per_epoch(run: Run) -> int:
    return max(1, len(run.train) // run.cfg.batch_size)


def _train_step(run: Run, records: list[BoxRecord], rng: np.random.Generator) -> dict[str, float]:
    cfg = run.cfg
    total = cfg.epochs * _batches_per_epoch(run)
    for group in run.optimizer.param_groups:
        group["lr"] = learning_rate(cfg, run.progress.step, total)
    batch = make_batch(records, rng, run.net.config, run.canvas, cfg.augment)
    mean = torch.tensor(run.net.config.mean).view(1, 3, 1, 1)
    std = torch.tensor(run.net.config.std).view(1, 3, 1, 1)
    heads = run.net((batch["image"] / 255.0 - mean) / std)
    loss = detector_loss(heads, batch["heatmap"], batch["size"], batch["offset"], batch["mask"],
                         batch["weight"], batch["size_weight"])
    run.optimizer.zero_grad(set_to_none=True)
    loss.total.backward()
    run.optimizer.step()
    run.progress.step += 1
    return {k: float(v.detach()) for k, v in loss._asdict().items()}


def _epoch(run: Run) -> bool:
    """Train the rest of the current epoch; False when `max_steps` stopped it early."""
    cfg, p = run.cfg, run.progress
    order = np.random.default_rng([cfg.seed, p.epoch]).permutation(len(run.train))
    n, t0, done = _batches_per_epoch(run), time.monotonic(), 0
    sums: dict[str, float] = {}
    while p.batch < n:
        if cfg.max_steps is not None and p.step >= cfg.max_steps:
            return False
        chosen = order[p.batch * cfg.batch_size: (p.batch + 1) * cfg.batch_size]
        rng = np.random.default_rng([cfg.seed, p.epoch, p.batch, 1])
        losses = _train_step(run, [run.train[i] for i in chosen], rng)
        p.batch += 1
        append_csv(cfg.runs_dir / "steps.csv", {"step": p.step, "loss": losses["total"]})
        sums = {k: sums.get(k, 0.0) + v for k, v in losses.items()}
        done += len(chosen)
        if p.batch % 25 == 0 or p.batch == n:
            rate, done = done / max(time.monotonic() - t0, 1e-6), 0
            avg = " ".join(f"{k} {v / p.batch:.3f}" for k, v in sums.items())
            print(f"epoch {p.epoch} batch {p.batch}/{n} step {p.step} {avg} "
                  f"lr {run.optimizer.param_groups[0]['lr']:.2e} {rate:.1f} img/s", flush=True)
            t0 = time.monotonic()
        if time.monotonic() - run.last_save > cfg.checkpoint_minutes * 60:
            _save_last(run)
    return True


def _save_last(run: Run) -> None:
    run.tick()
    save_checkpoint(run.cfg.runs_dir / "last.pt", run)
    run.last_save = time.monotonic()


def validate(run: Run) -> BoxAP:
    run.net.eval()
    try:
        return evaluate_detector(InferenceDetector(run.net), run.val)
    finally:
        run.net.train()


def _dataset_info(root: Path, count: int) -> dict[str, Any]:
    info = json.loads((Path(root) / "annotations.json").read_text()).get("info", {})
    return {"path": str(root), "images": count, "data_seed": info.get("seed"), "info": info}


def export_best(run: Run, ap: BoxAP) -> Path:
    cfg, p = run.cfg, run.progress
    training = {
        "command": run.command, "preset": cfg.preset, "epochs_done": p.epoch + 1,
        "epochs_planned": cfg.epochs, "steps": p.step, "batch_size": cfg.batch_size,
        "lr": cfg.lr, "seed": cfg.seed, "canvas": list(run.canvas),
        "augment": dataclasses.asdict(cfg.augment), "train_seconds": round(p.seconds),
        "loss": "CenterNet focal (alpha 2, beta 4) + L1 offset at centres + L1 log-size "
                "weighted by each box's Gaussian (TTFNet)",
    }  # fmt: skip
    trained_on = {"train": _dataset_info(cfg.train_dir, len(run.train)),
                  "val": _dataset_info(cfg.val_dir, len(run.val))}
    validation = {**ap.as_dict(), "evaluator": "pycocotools COCOeval iouType bbox",
                  "dataset": str(cfg.val_dir)}
    return export_detector(run.net, cfg.store, cfg.name, trained_on, validation, training)


def _end_of_epoch(run: Run) -> BoxAP:
    """Validate, export when AP50 improved, checkpoint, and move to the next epoch."""
    p = run.progress
    run.tick()
    ap = validate(run)
    improved = ap.ap50 > p.best_ap50
    if improved:
        p.best_ap50, p.best_epoch = ap.ap50, p.epoch
        save_checkpoint(run.cfg.runs_dir / "best.pt", run)
        export_best(run, ap)
    print(f"epoch {p.epoch} val box AP50 {ap.ap50:.4f} AP {ap.ap:.4f} AP75 {ap.ap75:.4f} "
          f"({ap.images} images, {ap.people} people, {ap.detections} detections) "
          f"F1 {ap.best_f1:.3f} at score {ap.f1_threshold:.2f} "
          f"best {p.best_ap50:.4f} @ {p.best_epoch}{' exported' if improved else ''} "
          f"train time {p.seconds / 60:.1f} min", flush=True)
    runs = run.cfg.runs_dir
    append_csv(runs / "epochs.csv", {"epoch": p.epoch, "step": p.step, "AP": round(ap.ap, 4),
                                     "AP50": round(ap.ap50, 4), "AP75": round(ap.ap75, 4)})
    plot_curves(runs / "steps.csv", runs / "epochs.csv", runs / "curves.png",
                title="validation box AP (pycocotools)")
    p.epoch, p.batch = p.epoch + 1, 0
    _save_last(run)
    return ap


def train_detector(cfg: DetectorTrainConfig, resume: bool = False, command: str = "") -> BoxAP:
    """Train (or resume) and return the last validation AP; the best epoch is exported."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    net = build_detector(cfg.preset)
    train = read_coco_boxes(cfg.train_dir, cfg.train_limit)
    run = Run(cfg, net, torch.optim.Adam(net.parameters(), lr=cfg.lr), Progress(), train,
              read_coco_boxes(cfg.val_dir, cfg.val_limit), command, training_canvas(cfg, train[0]))
    last = cfg.runs_dir / "last.pt"
    if resume and last.is_file():
        load_checkpoint(last, run)
        print(f"resumed from {last}: epoch {run.progress.epoch} batch {run.progress.batch} "
              f"step {run.progress.step}", flush=True)
    print(f"training {cfg.preset} on {len(run.train)} images (canvas {run.canvas}), "
          f"validating on {len(run.val)}", flush=True)
    net.train()
    ap = BoxAP(0.0, 0.0, 0.0, 0, 0, 0)
    while run.progress.epoch < cfg.epochs:
        finished = _epoch(run)
        if not finished and run.progress.batch == 0:
            break
        ap = _end_of_epoch(run)
        if not finished:
            break
    return ap
