"""Normalised image -> (centre heatmap logits, log box size, centre offset) at the output stride.

CenterNet ("Objects as Points", Zhou et al. 2019) with one class: a ResNet-like backbone down to
stride 32, a feature-pyramid top-down path with lateral connections back to the output stride,
and three small heads. The network returns tensors only; `decode.py` turns them into boxes.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from service.detector.config import DETECTOR_PRESETS, DetectorConfig


class HeadOutputs(NamedTuple):
    heatmap: torch.Tensor  # (B, 1, h, w) logits of "a person's box centre is in this cell"
    size: torch.Tensor  # (B, 2, h, w) log(box width / stride), log(box height / stride)
    offset: torch.Tensor  # (B, 2, h, w) sub-cell centre offset (x, y) in cells


def _conv_bn(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class Backbone(nn.Module):
    """(B, 3, H, W) -> one feature map per stage, stage i at stride 2 ** (i + 2)."""

    def __init__(self, cfg: DetectorConfig) -> None:
        super().__init__()
        self.stem = _conv_bn(3, cfg.stem_width, stride=2)
        stages: list[nn.Module] = []
        cin = cfg.stem_width
        for width, blocks in zip(cfg.widths, cfg.blocks, strict=True):
            layers = [BasicBlock(cin, width, 2)] + [
                BasicBlock(width, width, 1) for _ in range(blocks - 1)
            ]
            stages.append(nn.Sequential(*layers))
            cin = width
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        features: list[torch.Tensor] = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features


class FpnLevel(nn.Module):
    """Lateral 1x1 of a stage's features, plus the coarser level upsampled x2, then a 3x3."""

    def __init__(self, cin: int, channels: int) -> None:
        super().__init__()
        self.lateral = nn.Conv2d(cin, channels, 1)
        self.smooth = _conv_bn(channels, channels)

    def forward(self, feature: torch.Tensor, coarser: torch.Tensor | None) -> torch.Tensor:
        y = self.lateral(feature)
        if coarser is not None:
            y = y + F.interpolate(coarser, size=y.shape[-2:], mode="nearest")
        return self.smooth(y)


class TopDown(nn.Module):
    """Stage features -> one map at the output stride (feature-pyramid top-down path)."""

    def __init__(self, cfg: DetectorConfig) -> None:
        super().__init__()
        self.first = int(math.log2(cfg.output_stride)) - 2  # stage at the output stride
        # Deepest level first: that is the order of the top-down pass.
        used = cfg.widths[self.first:][::-1]
        self.levels = nn.ModuleList([FpnLevel(w, cfg.fpn_channels) for w in used])

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x: torch.Tensor | None = None
        last = len(features) - 1
        for k, level in enumerate(self.levels):
            x = level(features[last - k], x)
        assert x is not None
        return x


def _head(cin: int, hidden: int, cout: int, bias: float = 0.0) -> nn.Sequential:
    last = nn.Conv2d(hidden, cout, 1)
    assert last.bias is not None
    nn.init.constant_(last.bias, bias)
    if bias != 0.0:
        nn.init.normal_(last.weight, std=0.001)
    return nn.Sequential(nn.Conv2d(cin, hidden, 3, 1, 1), nn.ReLU(inplace=True), last)


class DetectorNet(nn.Module):
    """(B, 3, H, W) normalised, H and W multiples of the backbone stride -> HeadOutputs."""

    def __init__(self, cfg: DetectorConfig) -> None:
        super().__init__()
        self.config = cfg
        self.backbone = Backbone(cfg)
        self.top_down = TopDown(cfg)
        c, h = cfg.fpn_channels, cfg.head_channels
        self.heatmap = _head(c, h, 1, bias=cfg.heatmap_bias)
        self.size = _head(c, h, 2)
        self.offset = _head(c, h, 2)

    def forward(self, x: torch.Tensor) -> HeadOutputs:
        features = self.top_down(self.backbone(x))  # (B, C, H/s, W/s)
        return HeadOutputs(self.heatmap(features), self.size(features), self.offset(features))


def build_detector(preset: str | DetectorConfig) -> DetectorNet:
    if isinstance(preset, str):
        if preset not in DETECTOR_PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose from {sorted(DETECTOR_PRESETS)}")
        preset = DETECTOR_PRESETS[preset]
    return DetectorNet(preset)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
