"""Eq. 6-8: masked L2 on every stage's maps and fields; the background map weighted by lambda.

`foreground_weight` (0 = the paper) multiplies each pixel's squared error by
1 + foreground_weight * target (maps) or 1 + foreground_weight * [inside the limb band]
(fields). Trained from scratch, the plain L2 sits at "predict empty maps" for thousands of
steps (docs/models.md); weighting the few foreground pixels gets out of it within a few hundred.
Where the prediction is exact the optimum is unchanged: the weighted error is still zero."""

from __future__ import annotations

import torch


def stage_loss(
    maps: torch.Tensor,  # (B, J+1, h, w), last channel background
    fields: torch.Tensor,  # (B, 2C, h, w)
    target_maps: torch.Tensor,
    target_fields: torch.Tensor,
    mask: torch.Tensor,  # (B, h, w) W(p)
    background_weight: float = 0.05,
    foreground_weight: float = 0.0,
) -> torch.Tensor:
    """One stage's loss summed over channels and pixels, averaged over the batch."""
    w = mask.unsqueeze(1)  # (B, 1, h, w)
    w_joints, w_fields = w, w
    if foreground_weight:
        w_joints = w * (1.0 + foreground_weight * target_maps[:, :-1])  # (B, J, h, w)
        w_fields = w * (1.0 + foreground_weight * (target_fields != 0).float())  # (B, 2C, h, w)
    joints = (w_joints * (maps[:, :-1] - target_maps[:, :-1]) ** 2).sum()  # Eq. 6
    background = (w * (maps[:, -1:] - target_maps[:, -1:]) ** 2).sum()  # lambda term, Eq. 6
    direction = (w_fields * (fields - target_fields) ** 2).sum()  # Eq. 7
    return (joints + background_weight * background + direction) / maps.shape[0]


def total_loss(
    outputs: list[tuple[torch.Tensor, torch.Tensor]],
    target_maps: torch.Tensor,
    target_fields: torch.Tensor,
    mask: torch.Tensor,
    background_weight: float = 0.05,
    foreground_weight: float = 0.0,
) -> torch.Tensor:
    """Eq. 8: the sum over all T stages (intermediate supervision)."""
    losses = [
        stage_loss(m, f, target_maps, target_fields, mask, background_weight, foreground_weight)
        for m, f in outputs
    ]
    return torch.stack(losses).sum()
