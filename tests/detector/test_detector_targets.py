"""Boxes -> targets: exact peaks, sizes and offsets; targets decode back to the boxes given."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from service.detector.config import DETECTOR_PRESETS
from service.detector.data import AugmentConfig, BoxRecord, augment, ignore_weight
from service.detector.decode import decode_heads
from service.detector.net import HeadOutputs
from service.detector.targets import encode_boxes

BOXES = np.array([[10.0, 20.0, 50.0, 98.0], [70.5, 5.0, 90.0, 40.0], [100.0, 60.0, 170.0, 99.0]])


def test_centre_cell_offset_and_size() -> None:
    t = encode_boxes(BOXES[:1], height=100, width=180, stride=8)
    assert t.heatmap.shape == (1, 13, 23) and t.size.shape == (2, 13, 23)
    # centre (30, 59): grid (30/8 - 0.5, 59/8 - 0.5) = (3.25, 6.875) -> cell (row 7, col 3)
    assert t.heatmap[0, 7, 3] == 1.0 and t.heatmap.max() == 1.0
    assert t.mask.sum() == 1 and t.mask[7, 3] == 1
    np.testing.assert_allclose(t.offset[:, 7, 3], [0.25, -0.125])
    np.testing.assert_allclose(t.size[:, 7, 3], [math.log(40 / 8), math.log(78 / 8)], rtol=1e-6)
    # the blob is taller than wide, as the box is
    assert t.heatmap[0, 9, 3] > t.heatmap[0, 7, 5]
    # sizes are regressed around the centre too, weighted by the Gaussian (TTFNet)
    assert t.size_weight[7, 3] == 1.0 and 0 < t.size_weight[8, 3] < 1
    owned = t.size_weight > 0
    np.testing.assert_allclose(t.size[1][owned], math.log(78 / 8), rtol=1e-6)


def test_targets_decode_back_to_the_boxes() -> None:
    t = encode_boxes(BOXES, height=100, width=180, stride=8)
    heat = torch.from_numpy(t.heatmap).clamp(1e-6, 1 - 1e-6)[None]
    heads = HeadOutputs(torch.log(heat / (1 - heat)), torch.from_numpy(t.size)[None],
                        torch.from_numpy(t.offset)[None])
    out = decode_heads(heads, 8, 10, 0.99, 10.0, 100, 180)[0].numpy()
    assert (out[:, 4] > 0).sum() == 3
    found = sorted(out[out[:, 4] > 0, :4].tolist())
    np.testing.assert_allclose(found, sorted(np.minimum(BOXES, [180, 100, 180, 100]).tolist()),
                               atol=1e-3)


def test_boxes_are_clipped_and_tiny_ones_dropped() -> None:
    t = encode_boxes(np.array([[-20.0, -10.0, 20.0, 30.0], [50, 50, 51, 70]]), 64, 64, 8)
    assert t.mask.sum() == 1
    np.testing.assert_allclose(np.exp(t.size[:, t.mask > 0]).ravel() * 8, [20, 30], rtol=1e-6)


def test_ignore_weight_zeroes_cells_inside() -> None:
    weight = ignore_weight(np.array([[0.0, 0.0, 16.0, 8.0]]), 32, 32, 8)
    assert weight.shape == (4, 4)
    assert weight[0, :2].sum() == 0 and weight.sum() == 14


def test_augment_moves_boxes_with_the_image(tmp_path: Path) -> None:
    image = np.full((60, 120, 3), 40, np.uint8)
    image[10:50, 30:50] = 250  # a bright "person" at x 30..50, y 10..50
    record = BoxRecord(tmp_path / "x.jpg", 120, 60, np.array([[30.0, 10.0, 50.0, 50.0]]),
                       np.zeros((0, 4)))
    aug = AugmentConfig(brightness=0, contrast=0, saturation=0, grayscale=0)
    cfg = DETECTOR_PRESETS["tiny"]
    checked = 0
    for seed in range(6):
        canvas, boxes, _ = augment(record, image, np.random.default_rng(seed), (96, 96),
                                   cfg.input_long_side, cfg.mean, aug)
        x1, y1, x2, y2 = boxes[0]
        inner = canvas[int(y1) + 2: int(y2) - 1, int(x1) + 2: int(x2) - 1]
        inner = inner[:96, :96]
        if inner.size:
            assert inner.mean() > 200, seed
            checked += 1
    assert checked >= 3
