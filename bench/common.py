"""Helpers shared by the side-by-side benchmarks: pose matching, medians, the machine, plots."""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from service.skeleton import AIC14

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[1]
PLOTS = ROOT / "bench" / "plots"
SHARED_NOTE = (
    "This 2-core machine was shared while these ran (a training job and other work during "
    "development; the load average at the start is given above): absolute times are inflated "
    "and noisy; the ratios, measured side by side in one run (interleaved repeats, medians, CPU "
    "time where noted), are the figures to read."
)


@dataclass(frozen=True)
class Accuracy:
    """Predicted poses against the ground truth of one or more images."""

    people: int  # ground-truth people
    found: int  # ground-truth people matched by a pose with OKS >= 0.5 (one pose each)
    poses: int  # poses returned
    error_px: float  # mean joint distance over matched people's joints found by both (nan: none)


def oks(
    gt: np.ndarray, pred: np.ndarray, sigmas: tuple[float, ...] = AIC14.sigmas
) -> np.ndarray:
    """gt (N, J, 3) x, y, v; pred (D, J, 3) x, y, score -> (N, D) COCO OKS, area = the box
    around the labelled joints; a joint not predicted (score 0) counts as missed."""
    gt, pred = np.asarray(gt, np.float64), np.asarray(pred, np.float64)
    if len(gt) == 0 or len(pred) == 0:
        return np.zeros((len(gt), len(pred)))
    labelled = gt[..., 2] > 0  # (N, J)
    xy = np.where(labelled[..., None], gt[..., :2], np.nan)
    area = np.prod(np.nanmax(xy, axis=1) - np.nanmin(xy, axis=1), axis=1)  # (N,)
    d2 = ((gt[:, None, :, :2] - pred[None, :, :, :2]) ** 2).sum(-1)  # (N, D, J)
    e = np.exp(-d2 / (2 * (2 * np.asarray(sigmas)) ** 2 * (area[:, None, None] + 1e-9)))
    e = np.where(pred[None, :, :, 2] > 0, e, 0.0) * labelled[:, None, :]
    return e.sum(-1) / np.maximum(labelled.sum(-1), 1)[:, None]


def match(gt: np.ndarray, pred: np.ndarray, threshold: float = 0.5) -> list[tuple[int, int]]:
    """Greedy one-to-one (gt, pred) pairs by decreasing OKS, each at least `threshold`."""
    similarity = oks(gt, pred)
    pairs: list[tuple[int, int]] = []
    used_g: set[int] = set()
    used_p: set[int] = set()
    for flat in np.argsort(-similarity, axis=None):
        g, p = divmod(int(flat), similarity.shape[1])
        if similarity[g, p] < threshold:
            break
        if g not in used_g and p not in used_p:
            pairs.append((g, p))
            used_g.add(g)
            used_p.add(p)
    return pairs


def accuracy(scenes: Sequence[tuple[np.ndarray, np.ndarray]]) -> Accuracy:
    """[(gt (N, J, 3), pred (D, J, 3)), ...] -> people found and mean joint error."""
    people = found = poses = 0
    errors: list[np.ndarray] = []
    for gt, pred in scenes:
        pairs = match(gt, pred)
        people, found, poses = people + len(gt), found + len(pairs), poses + len(pred)
        for g, p in pairs:
            both = (gt[g, :, 2] > 0) & (pred[p, :, 2] > 0)
            errors.append(np.linalg.norm(gt[g, both, :2] - pred[p, both, :2], axis=1))
    flat = np.concatenate(errors) if errors else np.zeros(0)
    return Accuracy(people, found, poses, float(flat.mean()) if len(flat) else float("nan"))


def machine(threads: int) -> str:
    """One line about the CPU, the threads used and the load."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{cpu}, {os.cpu_count()} cores, {threads} thread(s), load average {load:.1f} at start"


@dataclass(frozen=True)
class Timed:
    """Wall-clock and this thread's CPU seconds of one call. On a shared machine the CPU time of
    single-threaded code is the steadier measure (waiting for a core is not counted)."""

    wall: float
    cpu: float


def timed(call: Callable[[], T]) -> tuple[T, Timed]:
    """call() -> (its result, Timed)."""
    wall, cpu = time.perf_counter(), time.thread_time()
    result = call()
    return result, Timed(time.perf_counter() - wall, time.thread_time() - cpu)


def shell_arg(value: str) -> str:
    """A command-line value as typed in a shell ('' for an empty one)."""
    return value or "''"


def median(values: Sequence[float]) -> float:
    return float(np.median(np.asarray(values, np.float64))) if len(values) else float("nan")


def plot_path(name: str) -> Path:
    """bench/plots/<name>.png (folder made); markdown links it relative to the repo root."""
    PLOTS.mkdir(parents=True, exist_ok=True)
    return PLOTS / f"{name}.png"


def new_figure(width: float = 6.0, height: float = 3.6):  # type: ignore[no-untyped-def]
    """A small matplotlib figure on the Agg backend (no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height), dpi=80)


def save(fig, name: str) -> str:  # type: ignore[no-untyped-def]
    """Save as a small PNG; returns the markdown image link."""
    path = plot_path(name)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return f"![{name}]({path.relative_to(ROOT).as_posix()})"


def add_timing_arguments(parser: argparse.ArgumentParser, repeats: int) -> None:
    """--repeats, --threads (default 1) and --no-write, shared by the timing benches."""
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-write", action="store_true")


def use_threads(threads: int) -> str:
    """torch and OpenCV on `threads` threads -> the machine line of the report."""
    import cv2
    import torch

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    return machine(threads)
