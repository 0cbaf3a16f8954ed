"""Eq. 6-8 against hand computation."""

import torch

from service.training.loss import stage_loss, total_loss


def test_stage_loss_matches_equation():
    maps = torch.zeros(2, 3, 4, 4)  # 2 joints + background
    target = torch.zeros(2, 3, 4, 4)
    maps[0, 0, 1, 1] = 0.5  # joint error 0.25
    maps[1, 2, 0, 0] = 2.0  # background error 4 -> weighted 0.05 * 4 = 0.2
    fields = torch.zeros(2, 4, 4, 4)
    target_fields = torch.zeros(2, 4, 4, 4)
    target_fields[0, 1, 3, 3] = 1.0  # field error 1
    mask = torch.ones(2, 4, 4)
    loss = stage_loss(maps, fields, target, target_fields, mask, background_weight=0.05)
    assert torch.isclose(loss, torch.tensor((0.25 + 0.2 + 1.0) / 2))


def test_masked_pixels_do_not_count():
    maps, target = torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4)
    fields, target_fields = torch.rand(1, 2, 4, 4), torch.rand(1, 2, 4, 4)
    assert stage_loss(maps, fields, target, target_fields, torch.zeros(1, 4, 4)) == 0
    mask = torch.zeros(1, 4, 4)
    mask[0, 2, 2] = 1
    expected = (
        ((maps - target)[0, :2, 2, 2] ** 2).sum()
        + 0.05 * (maps - target)[0, 2, 2, 2] ** 2
        + ((fields - target_fields)[0, :, 2, 2] ** 2).sum()
    )
    assert torch.isclose(stage_loss(maps, fields, target, target_fields, mask), expected)


def test_total_is_sum_over_stages():
    t_maps, t_fields, mask = torch.rand(1, 3, 4, 4), torch.rand(1, 2, 4, 4), torch.ones(1, 4, 4)
    stages = [(torch.rand(1, 3, 4, 4), torch.rand(1, 2, 4, 4)) for _ in range(3)]
    expected = sum(stage_loss(m, f, t_maps, t_fields, mask) for m, f in stages)
    assert torch.isclose(total_loss(stages, t_maps, t_fields, mask), expected)
