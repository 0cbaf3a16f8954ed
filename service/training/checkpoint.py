"""Checkpoints: network + optimiser + progress, written atomically so a stopped run resumes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn


@dataclass
class Progress:
    epoch: int = 0  # epochs completed
    step: int = 0
    best_ap: float = -1.0
    best_epoch: int = -1


def save_checkpoint(
    path: Path, net: nn.Module, optimizer: torch.optim.Optimizer, progress: Progress,
    extra: dict[str, Any] | None = None,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "model": net.state_dict(),
            "optimizer": optimizer.state_dict(),
            "progress": vars(progress),
            "extra": extra or {},
        },
        tmp,
    )
    os.replace(tmp, path)


def load_checkpoint(
    path: Path, net: nn.Module, optimizer: torch.optim.Optimizer | None = None
) -> Progress:
    state = torch.load(path, map_location="cpu", weights_only=False)
    net.load_state_dict(state["model"])
    if optimizer is not None and "optimizer" in state:
        optimizer.load_state_dict(state["optimizer"])
    return Progress(**state.get("progress", {}))
