"""Box-head targets (CenterNet) and the per-channel masks of unlabelled joints, checked against
their definitions; the box decoder inverts the targets."""

import math

import numpy as np
import pytest
import torch

from service.network.bottomup import BoxDecoder
from service.skeleton import AIC14
from service.targets import grid_to_image, image_to_grid
from service.targets.centres import encode_centres
from service.targets.unlabelled import channel_masks


def test_centre_peak_and_size_at_the_centre_cell():
    box = np.array([[30.0, 20.0, 70.0, 100.0]])  # 40 x 80, centre (50, 60)
    t = encode_centres(box, 128, 128, stride=4)
    cell = np.round(image_to_grid(np.array([50.0, 60.0]), 4)).astype(int)
    assert t.heatmap[0, cell[1], cell[0]] == pytest.approx(1.0)
    assert t.heatmap.max() == pytest.approx(1.0) and (t.heatmap == 1.0).sum() == 1
    assert t.size[:, cell[1], cell[0]] == pytest.approx([math.log(10), math.log(20)])
    assert t.size_weight.sum() == 1 and t.size_weight[0, cell[1], cell[0]] == 1
    # Gaussian of sigma = 0.08 sqrt(w h) around the peak cell's image position.
    sigma = 0.08 * math.sqrt(40 * 80)
    px, py = grid_to_image(cell, 4)
    x, y = grid_to_image(cell[0] + 3, 4), grid_to_image(cell[1], 4)
    expected = math.exp(-((x - px) ** 2 + (y - py) ** 2) / (2 * sigma**2))
    assert t.heatmap[0, cell[1], cell[0] + 3] == pytest.approx(expected, rel=1e-5)


def test_small_and_outside_boxes_are_left_out():
    t = encode_centres(np.array([[10, 10, 14, 30], [200, 200, 300, 300]]), 64, 64, 4)
    assert t.heatmap.max() == 0 and t.size_weight.sum() == 0


def test_decoder_inverts_the_targets():
    boxes = np.array([[30.0, 20.0, 70.0, 100.0], [100.0, 40.0, 124.0, 90.0]])
    t = encode_centres(boxes, 128, 128, stride=4)
    logit = torch.logit(torch.from_numpy(t.heatmap).clamp(1e-6, 1 - 1e-6))
    raw = torch.cat([logit, torch.from_numpy(t.size)], 0)[None]  # (1, 3, h, w)
    rows = BoxDecoder(4, 5, 0.5)(raw)[0].numpy()
    found = rows[rows[:, 4] > 0.5]
    assert len(found) == 2
    for box in boxes:  # centre snapped to a cell: within half a stride; size exact
        best = found[np.abs(found[:, :4] - box).sum(1).argmin()]
        assert np.abs((best[:2] + best[2:4]) / 2 - (box[:2] + box[2:]) / 2).max() <= 2.0
        assert best[2] - best[0] == pytest.approx(box[2] - box[0], rel=1e-4)
        assert best[3] - best[1] == pytest.approx(box[3] - box[1], rel=1e-4)


def test_unlabelled_joint_masks_its_channels_in_the_box_only():
    kp = np.zeros((2, AIC14.num_joints, 3))
    kp[..., 2] = 2
    kp[0, AIC14.joint("neck"), 2] = 0  # person 0: neck unlabelled (as in COCO)
    boxes = np.array([[8.0, 8.0, 40.0, 60.0], [80.0, 8.0, 120.0, 60.0]])
    base = np.ones((32, 32), np.float32)
    maps, fields = channel_masks(kp, boxes, base, AIC14, 128, 128, 4, grow=0.0)
    neck = AIC14.joint("neck")
    inside, outside = (int(image_to_grid(30.0, 4)), int(image_to_grid(20.0, 4))), (25, 25)
    assert maps[neck][inside[1], inside[0]] == 0 and maps[-1][inside[1], inside[0]] == 0
    assert maps[neck][outside] == 1 and maps[neck][5, 25] == 1  # person 1 keeps its neck
    assert maps[AIC14.joint("right_wrist")][inside[1], inside[0]] == 1
    for c, (a, b) in enumerate(AIC14.limbs):
        touches = neck in (a, b)
        assert fields[2 * c][inside[1], inside[0]] == (0 if touches else 1)
        assert fields[2 * c + 1][inside[1], inside[0]] == (0 if touches else 1)
