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


def test_foreground_weight_scales_errors_on_targets():
    # One joint cell with target 0.5 and prediction 0: weight 1 + 10 * 0.5 = 6, error 0.25.
    # One band cell (target field 0.6) predicted 0: weight 1 + 10, error 0.36.
    # One background-of-fields cell predicted 0.3 where the target is 0: weight 1, error 0.09.
    maps, target = torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 3, 3)
    target[0, 0, 1, 1] = 0.5
    target[0, 1] = 1 - target[0, 0]  # background channel, predicted 0 everywhere
    fields, target_fields = torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 3, 3)
    target_fields[0, 0, 2, 2] = 0.6
    fields[0, 1, 0, 0] = 0.3
    mask = torch.ones(1, 3, 3)
    background = (target[0, 1] ** 2).sum()
    expected = 6 * 0.25 + 0.05 * background + 11 * 0.36 + 0.09
    loss = stage_loss(maps, fields, target, target_fields, mask, foreground_weight=10.0)
    assert torch.isclose(loss, torch.tensor(float(expected)))
    plain = stage_loss(maps, fields, target, target_fields, mask)
    assert torch.isclose(plain, torch.tensor(float(0.25 + 0.05 * background + 0.36 + 0.09)))


def test_foreground_weight_keeps_exact_prediction_at_zero_and_respects_mask():
    target, target_fields = torch.rand(2, 3, 4, 4), torch.rand(2, 4, 4, 4)
    loss = stage_loss(target.clone(), target_fields.clone(), target, target_fields,
                      torch.ones(2, 4, 4), foreground_weight=10.0)
    assert loss == 0
    masked = stage_loss(torch.rand(2, 3, 4, 4), torch.rand(2, 4, 4, 4), target, target_fields,
                        torch.zeros(2, 4, 4), foreground_weight=10.0)
    assert masked == 0


def test_band_weight_covers_both_components_of_a_vertical_limb():
    # A vertical limb: its target x component is 0 inside the band, y is 1. A prediction of
    # x = 0.5 there is an error inside the band: weight 1 + 10.
    maps, target = torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 3, 3)
    fields, target_fields = torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 3, 3)
    target_fields[0, 1, 1, 1] = 1.0
    fields[0, 0, 1, 1] = 0.5
    fields[0, 1, 1, 1] = 1.0
    loss = stage_loss(maps, fields, target, target_fields, torch.ones(1, 3, 3),
                      background_weight=0.0, foreground_weight=10.0)
    assert torch.isclose(loss, torch.tensor(11 * 0.25))


def test_twin_weight_charges_a_left_map_at_the_right_joint():
    # Joints: 0 = right, 1 = left, 2 = centre (twins 1, 0, 2); limbs: 0 = right, 1 = left.
    twins = ((1, 0, 2), (1, 0))
    maps, target = torch.zeros(1, 4, 3, 3), torch.zeros(1, 4, 3, 3)
    target[0, 0, 0, 0] = 1.0  # the right joint's peak at (0, 0)
    maps[0, 0, 0, 0] = 1.0  # found: no error
    maps[0, 1, 0, 0] = 0.8  # the left map fires there too: error 0.64
    fields, target_fields = torch.zeros(1, 4, 3, 3), torch.zeros(1, 4, 3, 3)
    target_fields[0, 0:2, 2, 2] = torch.tensor([0.6, 0.8])  # the right limb's band at (2, 2)
    fields[0, 0:2, 2, 2] = torch.tensor([0.6, 0.8])  # found
    fields[0, 2:4, 2, 2] = torch.tensor([0.6, 0.8])  # the left limb copies it: error 1.0
    mask = torch.ones(1, 3, 3)
    kwargs = dict(background_weight=0.0, foreground_weight=10.0)
    plain = stage_loss(maps, fields, target, target_fields, mask, **kwargs)
    assert torch.isclose(plain, torch.tensor(0.64 + 1.0))
    twin = stage_loss(maps, fields, target, target_fields, mask, **kwargs, twin_weight=5.0,
                      twins=twins)
    assert torch.isclose(twin, torch.tensor(6 * 0.64 + 6 * 1.0))
    exact = stage_loss(target.clone(), target_fields.clone(), target, target_fields, mask,
                       **kwargs, twin_weight=5.0, twins=twins)
    assert exact == 0
