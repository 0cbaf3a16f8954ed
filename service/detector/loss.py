"""Head outputs + targets -> CenterNet loss: focal loss on the heatmap, L1 on size and offset."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from service.detector.net import HeadOutputs


class DetectorLoss(NamedTuple):
    total: torch.Tensor
    heatmap: torch.Tensor
    size: torch.Tensor
    offset: torch.Tensor


def focal_loss(
    logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss (alpha 2, beta 4), per positive.

    logits, target: (B, 1, h, w); positives are the cells where target == 1; weight (B, h, w)
    scales each cell (0 in ignore regions).
    """
    pos = (target >= 1.0).to(logits.dtype)
    pred = torch.sigmoid(logits)
    pos_term = F.logsigmoid(logits) * (1 - pred) ** 2 * pos
    neg_term = F.logsigmoid(-logits) * pred**2 * (1 - target) ** 4 * (1 - pos)
    if weight is not None:
        neg_term = neg_term * weight.unsqueeze(1)
    return -(pos_term.sum() + neg_term.sum()) / pos.sum().clamp(min=1.0)


def masked_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) pair and (B, h, w) mask -> mean L1 over the masked cells and channels."""
    weight = mask.unsqueeze(1)
    return (torch.abs(pred - target) * weight).sum() / (weight.sum() * pred.shape[1]).clamp(min=1.0)


def detector_loss(
    heads: HeadOutputs,
    heatmap: torch.Tensor,  # (B, 1, h, w)
    size: torch.Tensor,  # (B, 2, h, w)
    offset: torch.Tensor,  # (B, 2, h, w)
    mask: torch.Tensor,  # (B, h, w)
    weight: torch.Tensor | None = None,  # (B, h, w) heatmap loss weight, 0 on ignore regions
    size_mask: torch.Tensor | None = None,  # (B, h, w) where to regress sizes; None: centres
    size_weight: float = 1.0,
    offset_weight: float = 1.0,
) -> DetectorLoss:
    hm = focal_loss(heads.heatmap, heatmap, weight)
    sz = masked_l1(heads.size, size, mask if size_mask is None else size_mask)
    off = masked_l1(heads.offset, offset, mask)
    return DetectorLoss(hm + size_weight * sz + offset_weight * off, hm, sz, off)
