"""The bottom-up loss against hand computations: per-channel masks, focal loss, size L1."""

import math

import pytest
import torch

from service.training.box_loss import box_loss, centre_focal_loss, masked_stage_loss


def test_focal_loss_by_hand():
    logit = torch.tensor([[[[0.0, math.log(3.0)]]]])  # p = 0.5, 0.75
    target = torch.tensor([[[[1.0, 0.5]]]])
    mask = torch.ones(1, 1, 2)
    pos = -math.log(0.5) * 0.5**2
    neg = -math.log(0.25) * 0.75**2 * 0.5**4
    assert float(centre_focal_loss(logit, target, mask)) == pytest.approx(pos + neg, rel=1e-5)
    mask[0, 0, 1] = 0  # masked cells count neither way
    assert float(centre_focal_loss(logit, target, mask)) == pytest.approx(pos, rel=1e-5)


def test_size_l1_only_at_centre_cells():
    raw = torch.zeros(1, 3, 2, 2)
    raw[0, 1:3, 0, 0] = torch.tensor([1.0, 2.0])
    raw[0, 1:3, 1, 1] = 5.0  # not a centre: no size loss
    batch = {"centre": torch.zeros(1, 1, 2, 2), "mask": torch.ones(1, 2, 2),
             "size": torch.zeros(1, 2, 2, 2), "size_weight": torch.zeros(1, 1, 2, 2)}
    batch["size_weight"][0, 0, 0, 0] = 1
    batch["size"][0, :, 0, 0] = torch.tensor([1.5, 1.0])
    focal = float(centre_focal_loss(raw[:, :1], batch["centre"], batch["mask"]))
    assert float(box_loss(raw, batch)) == pytest.approx(focal + 0.5 + 1.0, rel=1e-5)


def test_masked_channels_do_not_count():
    maps, fields = torch.ones(1, 3, 2, 2), torch.zeros(1, 2, 2, 2)
    batch = {"maps": torch.zeros(1, 3, 2, 2), "fields": torch.zeros(1, 2, 2, 2),
             "map_mask": torch.ones(1, 3, 2, 2), "field_mask": torch.ones(1, 2, 2, 2)}
    full = float(masked_stage_loss(maps, fields, batch, 0.5, 0.0))
    assert full == pytest.approx(2 * 4 + 0.5 * 4)  # two joint channels + weighted background
    batch["map_mask"][0, 0] = 0
    assert float(masked_stage_loss(maps, fields, batch, 0.5, 0.0)) == pytest.approx(4 + 2)
