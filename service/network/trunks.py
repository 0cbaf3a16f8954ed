"""Pretrained trunks for the bottom-up net: image in [0, 1] -> stride-4 features.

`blazepose-full`: MediaPipe's BlazePose landmark network (imported by `boxpose import
blazepose`) up to its stride-4 decoder features (48 channels), plus its 39 landmark heatmaps
computed from them (a 1 x 1 convolution that already knows where body joints are): 87 channels.
Its regression, segmentation and world-coordinate heads are left out.

`lite`: the `lite` preset's ResNet backbone (stride 8, 96 channels) from random weights,
upsampled 2x to stride 4: the from-scratch baseline issue 13 compares the pretrained trunk with.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from service.network.backbone import ResNetBackbone
from service.network.blazepose import BlazePoseLandmarkNet, upsample2x
from service.network.config import PRESETS
from service.network.normalize import Normalize


class BlazePoseTrunk(nn.Module):
    """(B, 3, H, W) RGB in [0, 1], H and W multiples of 32 -> (B, 87, H/4, W/4)."""

    channels = 48 + 39
    pad_multiple = 32

    def __init__(self, landmarks: BlazePoseLandmarkNet) -> None:
        super().__init__()
        self.stem, self.block0 = landmarks.stem, landmarks.block0
        self.stage4, self.lat4 = landmarks.stage4, landmarks.lat4
        self.stage8, self.lat8 = landmarks.stage8, landmarks.lat8
        self.stage16, self.lat16 = landmarks.stage16, landmarks.lat16
        self.stage32, self.neck, self.top = landmarks.stage32, landmarks.neck, landmarks.top
        self.heatmap = landmarks.heatmap

    def features(self, image: torch.Tensor) -> torch.Tensor:
        x = self.stage4(self.block0(self.stem(image)))
        skip4 = self.lat4(x)
        x = self.stage8(x)
        skip8 = self.lat8(x)
        x = self.stage16(x)
        skip16 = self.lat16(x)
        y = upsample2x(self.top(self.neck(self.stage32(x)))) + skip16
        y = upsample2x(upsample2x(y) + skip8) + skip4  # (B, 48, H/4, W/4)
        return torch.cat([y, self.heatmap(y)], 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.features(image)


def blazepose_trunk(state: Mapping[str, torch.Tensor] | None = None) -> BlazePoseTrunk:
    """The trunk, with the landmark network's weights when `state` (its state dict, or one
    whose keys carry a prefix ending in the landmark net's names) is given."""
    net = BlazePoseLandmarkNet()
    if state is not None:
        net.load_state_dict(dict(state))
    return BlazePoseTrunk(net)


class LiteTrunk(nn.Module):
    """(B, 3, H, W) RGB in [0, 1], H and W multiples of 8 -> (B, 96, H/4, W/4): the lite
    preset's backbone (ImageNet-normalised input), its stride-8 output upsampled 2x."""

    pad_multiple = 8

    def __init__(self) -> None:
        super().__init__()
        cfg = PRESETS["lite"]
        self.normalize = Normalize(cfg.mean, cfg.std)
        self.backbone = ResNetBackbone(cfg.backbone)
        self.channels = self.backbone.out_channels

    def features(self, image: torch.Tensor) -> torch.Tensor:
        return upsample2x(self.backbone(self.normalize(image * 255.0)))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.features(image)


Trunk = BlazePoseTrunk | LiteTrunk
