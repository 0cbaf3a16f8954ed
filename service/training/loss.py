"""Eq. 6-8: masked L2 on every stage's maps and fields; the background map weighted by lambda."""

from __future__ import annotations

import torch


def stage_loss(
    maps: torch.Tensor,  # (B, J+1, h, w), last channel background
    fields: torch.Tensor,  # (B, 2C, h, w)
    target_maps: torch.Tensor,
    target_fields: torch.Tensor,
    mask: torch.Tensor,  # (B, h, w) W(p)
    background_weight: float = 0.05,
) -> torch.Tensor:
    """One stage's loss summed over channels and pixels, averaged over the batch."""
    w = mask.unsqueeze(1)  # (B, 1, h, w)
    joints = (w * (maps[:, :-1] - target_maps[:, :-1]) ** 2).sum()  # Eq. 6
    background = (w * (maps[:, -1:] - target_maps[:, -1:]) ** 2).sum()  # lambda term, Eq. 6
    direction = (w * (fields - target_fields) ** 2).sum()  # Eq. 7
    return (joints + background_weight * background + direction) / maps.shape[0]


def total_loss(
    outputs: list[tuple[torch.Tensor, torch.Tensor]],
    target_maps: torch.Tensor,
    target_fields: torch.Tensor,
    mask: torch.Tensor,
    background_weight: float = 0.05,
) -> torch.Tensor:
    """Eq. 8: the sum over all T stages (intermediate supervision)."""
    losses = [
        stage_loss(m, f, target_maps, target_fields, mask, background_weight) for m, f in outputs
    ]
    return torch.stack(losses).sum()
