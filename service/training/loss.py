"""Eq. 6-8: masked L2 on every stage's maps and fields; the background map weighted by lambda.

`foreground_weight` (0 = the paper) multiplies each pixel's squared error by
1 + foreground_weight * target (maps) or 1 + foreground_weight * [inside the limb band]
(fields). Trained from scratch, the plain L2 sits at "predict empty maps" for thousands of
steps (docs/models.md); weighting the few foreground pixels gets out of it within a few hundred.
Where the prediction is exact the optimum is unchanged: the weighted error is still zero.

`twin_weight` adds weight where the left/right twin has its target: on a left joint's map at
the right joint's peak, on a left limb's field in the right limb's band. A net that gives left
and right the same map (it has not yet learnt which way a person faces) pays for it there as
much as where it misses a joint, instead of the small plain background error.
`twins` = (joint twin per joint, limb twin per limb): `Skeleton.flip_permutation`,
`Skeleton.limb_flip_permutation`."""

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
    twin_weight: float = 0.0,
    twins: tuple[tuple[int, ...], tuple[int, ...]] | None = None,
) -> torch.Tensor:
    """One stage's loss summed over channels and pixels, averaged over the batch."""
    w = mask.unsqueeze(1)  # (B, 1, h, w)
    w_joints, w_fields = w, w
    if foreground_weight or twin_weight:
        joint_target = target_maps[:, :-1]  # (B, J, h, w)
        # A limb's band: where either of its two components is non-zero (B, C, h, w).
        nonzero = (target_fields != 0).float()
        band = nonzero.view(nonzero.shape[0], -1, 2, *nonzero.shape[2:]).amax(2)
        w_joints = w * (1.0 + foreground_weight * joint_target)
        w_fields = w * (1.0 + foreground_weight * band.repeat_interleave(2, dim=1))
        if twin_weight:
            if twins is None:
                raise ValueError("twin_weight needs the skeleton's twins")
            joint_twin, limb_twin = twins
            w_joints = w_joints + w * twin_weight * joint_target[:, list(joint_twin)]
            twin_band = band[:, list(limb_twin)].repeat_interleave(2, dim=1)
            w_fields = w_fields + w * twin_weight * twin_band
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
    twin_weight: float = 0.0,
    twins: tuple[tuple[int, ...], tuple[int, ...]] | None = None,
) -> torch.Tensor:
    """Eq. 8: the sum over all T stages (intermediate supervision)."""
    losses = [
        stage_loss(m, f, target_maps, target_fields, mask, background_weight, foreground_weight,
                   twin_weight, twins)
        for m, f in outputs
    ]
    return torch.stack(losses).sum()
