"""Decode contract: hand-made heads -> the right boxes in input pixels, through the resize."""

from __future__ import annotations

import math
from typing import cast

import pytest
import torch
from torch import nn

from service.detector.config import DETECTOR_PRESETS
from service.detector.decode import InferenceDetector, padded_size, working_size
from service.detector.net import DetectorNet, HeadOutputs

CFG = DETECTOR_PRESETS["tiny"]  # long side 128, stride 8, pad to 32, K = 10
HEIGHT, WIDTH = 100, 300  # not multiples of the stride; working size (43, 128), padded (64, 128)


class FakeNet(nn.Module):
    """Returns fixed heads for the (8, 16) grid of a (64, 128) padded working image."""

    def __init__(self, heads: HeadOutputs) -> None:
        super().__init__()
        self.config = CFG
        self.heads = heads
        self.seen: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> HeadOutputs:
        self.seen.append(tuple(x.shape))
        return self.heads


def _heads(peaks: list[tuple[int, int, float, float, float, float, float]]) -> HeadOutputs:
    """peaks: (row, col, score, off_x, off_y, width_cells, height_cells)."""
    heat = torch.full((1, 1, 8, 16), -20.0)
    size = torch.zeros(1, 2, 8, 16)
    offset = torch.zeros(1, 2, 8, 16)
    for row, col, score, ox, oy, w, h in peaks:
        heat[0, 0, row, col] = math.log(score / (1 - score))
        offset[0, :, row, col] = torch.tensor([ox, oy])
        size[0, :, row, col] = torch.tensor([math.log(w), math.log(h)])
    return HeadOutputs(heat, size, offset)


def _detector(fake: FakeNet) -> InferenceDetector:
    return InferenceDetector(cast(DetectorNet, fake))


def test_working_and_padded_sizes() -> None:
    assert working_size(HEIGHT, WIDTH, 128) == (43, 128)
    assert padded_size(43, 128, 32) == (64, 128)
    assert working_size(300, 100, 128) == (128, 43)


def test_hand_made_heads_decode_to_boxes_in_input_pixels() -> None:
    heads = _heads([
        (2, 5, 0.9, 0.25, -0.25, 4.0, 6.0),
        (2, 6, 0.5, 0.0, 0.0, 1.0, 1.0),  # next to a stronger peak: suppressed by the 3x3 NMS
        (4, 12, 0.6, 0.0, 0.0, 2.0, 2.0),
        (7, 3, 0.95, 0.0, 0.0, 2.0, 2.0),  # in the padding below the image: ignored
    ])  # fmt: skip
    fake = FakeNet(heads)
    out = _detector(fake)(torch.zeros(1, 3, HEIGHT, WIDTH))
    assert fake.seen == [(1, 3, 64, 128)]
    assert out.shape == (1, CFG.max_detections, 5)
    sx, sy = 128 / WIDTH, 43 / HEIGHT
    # Working pixels: centre ((5 + 0.25 + 0.5) * 8, (2 - 0.25 + 0.5) * 8) = (46, 18), size 32x48.
    first = torch.tensor([30 / sx, 0.0, 62 / sx, 42 / sy, 0.9])  # y1 = -6 clipped to 0
    second = torch.tensor([92 / sx, 28 / sy, 108 / sx, HEIGHT, 0.6])  # 44 / sy clipped
    torch.testing.assert_close(out[0, 0], first, rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(out[0, 1], second, rtol=1e-5, atol=1e-3)
    assert torch.all(out[0, 2:] == 0)  # padding rows: score 0 (and all zero)


def test_output_is_sorted_and_threshold_makes_padding() -> None:
    peaks = [(r, c, 0.02 + 0.01 * (r + c), 0.0, 0.0, 1.0, 1.0) for r in (0, 2, 4) for c in (0, 4)]
    peaks.append((0, 8, 0.005, 0.0, 0.0, 1.0, 1.0))  # under the 0.01 threshold
    out = _detector(FakeNet(_heads(peaks)))(torch.zeros(1, 3, HEIGHT, WIDTH))
    scores = out[0, :, 4]
    assert torch.all(scores[:-1] >= scores[1:])
    assert int((scores > 0).sum()) == 6
    assert scores[0] == pytest.approx(0.10, abs=1e-6)


def test_rejects_a_wrong_layout() -> None:
    with pytest.raises(ValueError, match="B, 3, H, W"):
        _detector(FakeNet(_heads([])))(torch.zeros(1, 100, 300, 3))
