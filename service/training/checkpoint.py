"""Checkpoints of every trainer (pose, bottom-up, detector): network + optimiser + progress (+ the
weights' moving average where the run keeps one, + the trainer's extra fields), written
atomically so a stopped run resumes.

A file holds {"model", "optimizer", "progress": the trainer's progress dataclass as a dict,
"extra": {...}, "ema"?}. Detector checkpoints written before they came here hold their preset at
the top level instead of in "extra" (`extra_of` reads both)."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


@dataclass
class Progress:
    epoch: int = 0  # epochs completed
    step: int = 0
    best_ap: float = -1.0
    best_epoch: int = -1


def save_checkpoint(
    path: Path, net: nn.Module, optimizer: torch.optim.Optimizer, progress: DataclassInstance,
    extra: dict[str, Any] | None = None, averaged: nn.Module | None = None,
) -> None:
    """Writes `path` (through a temporary file, so a stop mid-write keeps the previous one);
    `progress` is the trainer's own progress dataclass (`Progress`, the detector's)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "model": net.state_dict(),
            "optimizer": optimizer.state_dict(),
            "progress": dataclasses.asdict(progress),
            "extra": extra or {},
            **({"ema": _half(averaged.state_dict())} if averaged is not None else {}),
        },
        tmp,
    )
    os.replace(tmp, path)


def _half(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Floating tensors as float16: the average is for export (and resumed once per leg), and a
    committed checkpoint must stay under 25 MB (model 6.7 + Adam 13.2 + average 3.3 MB)."""
    return {k: v.half() if v.is_floating_point() else v for k, v in state.items()}


def load_checkpoint(
    path: Path, net: nn.Module, optimizer: torch.optim.Optimizer | None = None,
    averaged: nn.Module | None = None,
) -> Progress:
    """Loads what `path` holds into `net` (and `optimizer`, `averaged` when given); a checkpoint
    written without a moving average leaves `averaged` as it is."""
    return Progress(**restore_checkpoint(path, net, optimizer, averaged))


def restore_checkpoint(
    path: Path, net: nn.Module, optimizer: torch.optim.Optimizer | None = None,
    averaged: nn.Module | None = None,
) -> dict[str, Any]:
    """As `load_checkpoint`, for any trainer: returns the progress record as saved (the fields
    of the trainer's progress dataclass)."""
    state = read_checkpoint(path)
    net.load_state_dict(state["model"])
    if optimizer is not None and "optimizer" in state:
        optimizer.load_state_dict(state["optimizer"])
    if averaged is not None and "ema" in state:
        averaged.load_state_dict(state["ema"])
    return dict(state.get("progress", {}))


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint's dict, its tensors on the CPU (unpickled in full, not `weights_only`:
    read only checkpoints from a source you trust)."""
    return dict(torch.load(path, map_location="cpu", weights_only=False))


def extra_of(state: dict[str, Any]) -> dict[str, Any]:
    """The trainer's extra fields of a read checkpoint, wherever its version kept them."""
    legacy = {k: v for k, v in state.items() if k == "preset"}  # detector, before "extra"
    return {**legacy, **state.get("extra", {})}


def exported_weights(state: dict[str, Any], which: str = "average") -> dict[str, torch.Tensor]:
    """The network weights to export from a loaded checkpoint: its moving average where it holds
    one and `which` is "average" (as float32, without AveragedModel's prefix and counter), else
    the last step's."""
    if which not in ("average", "last"):
        raise ValueError(f"which must be 'average' or 'last', not {which!r}")
    if which == "last" or "ema" not in state:
        return dict(state["model"])
    prefix = "module."
    return {k[len(prefix):]: v.float() if v.is_floating_point() else v
            for k, v in state["ema"].items() if k.startswith(prefix)}  # fmt: skip
