"""The bottom-up net's loss: Eq. 6-7 with per-channel masks (unlabelled joints count neither
way), summed over stages (Eq. 8), plus the box head's CenterNet loss times `box_weight`.

Box head: focal loss on the centre heatmap (Zhou et al. 2019, alpha 2, beta 4), normalised by the
number of people, and L1 on (log w, log h) at the centre cells. Both are masked by W(p)."""

from __future__ import annotations

import torch


def masked_stage_loss(
    maps: torch.Tensor, fields: torch.Tensor, batch: dict[str, torch.Tensor],
    background_weight: float, foreground_weight: float,
) -> torch.Tensor:
    """One stage, (B, J+1, h, w) and (B, 2C, h, w) -> scalar: summed over channels and pixels,
    averaged over the batch (as `service.training.loss.stage_loss`)."""
    t_maps, t_fields = batch["maps"], batch["fields"]
    m_maps, m_fields = batch["map_mask"], batch["field_mask"]
    joint_target = t_maps[:, :-1]
    nonzero = (t_fields != 0).float()
    band = nonzero.view(nonzero.shape[0], -1, 2, *nonzero.shape[2:]).amax(2)
    w_joints = m_maps[:, :-1] * (1.0 + foreground_weight * joint_target)
    w_fields = m_fields * (1.0 + foreground_weight * band.repeat_interleave(2, dim=1))
    joints = (w_joints * (maps[:, :-1] - joint_target) ** 2).sum()  # Eq. 6
    background = (m_maps[:, -1:] * (maps[:, -1:] - t_maps[:, -1:]) ** 2).sum()
    direction = (w_fields * (fields - t_fields) ** 2).sum()  # Eq. 7
    return (joints + background_weight * background + direction) / maps.shape[0]


def centre_focal_loss(logit: torch.Tensor, target: torch.Tensor,
                      mask: torch.Tensor) -> torch.Tensor:
    """(B, 1, h, w) logits and targets in [0, 1] (1 at centres), (B, h, w) mask -> scalar."""
    p = torch.sigmoid(logit).clamp(1e-4, 1 - 1e-4)
    w = mask.unsqueeze(1)
    pos = (target >= 1.0).float() * w
    pos_loss = -(torch.log(p) * (1 - p) ** 2 * pos).sum()
    neg_loss = -(torch.log(1 - p) * p**2 * (1 - target) ** 4 * (1 - pos) * w).sum()
    return (pos_loss + neg_loss) / pos.sum().clamp(min=1.0)


def box_loss(raw: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """(B, 3, h, w) raw box head -> focal + size L1 (scalar)."""
    focal = centre_focal_loss(raw[:, :1], batch["centre"], batch["mask"])
    weight = batch["size_weight"]
    size = (weight * (raw[:, 1:3] - batch["size"]).abs()).sum() / weight.sum().clamp(min=1.0)
    return focal + size


def total_loss(
    outputs: list[tuple[torch.Tensor, torch.Tensor]], raw_boxes: torch.Tensor,
    batch: dict[str, torch.Tensor], background_weight: float = 0.05,
    foreground_weight: float = 10.0, box_weight: float = 1000.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Eq. 8 over all stages + box_weight x box loss; also the parts, for the curves."""
    pose = torch.stack([masked_stage_loss(m, f, batch, background_weight, foreground_weight)
                        for m, f in outputs]).sum()  # fmt: skip
    boxes = box_loss(raw_boxes, batch)
    return pose + box_weight * boxes, {"pose": float(pose.detach()), "box": float(boxes.detach())}
