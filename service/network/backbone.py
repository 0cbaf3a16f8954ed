"""ResNet backbone with torchvision's layer names and optional dilation (features at stride 8)."""

from __future__ import annotations

import torch
from torch import nn

from service.network.config import BackboneConfig


def _conv3x3(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int, dilation: int,
                 downsample: nn.Module | None) -> None:
        super().__init__()
        self.conv1 = _conv3x3(cin, planes, stride, dilation)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes, 1, dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int, dilation: int,
                 downsample: nn.Module | None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, stride, dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


class ResNetBackbone(nn.Module):
    """(B, 3, H, W) normalised -> (B, out_channels, H/8, W/8) with the paper's dilation."""

    def __init__(self, cfg: BackboneConfig) -> None:
        super().__init__()
        block: type[BasicBlock] | type[Bottleneck] = (
            Bottleneck if cfg.block == "bottleneck" else BasicBlock
        )
        self.conv1 = nn.Conv2d(3, cfg.stem_width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(cfg.stem_width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin, dilation = cfg.stem_width, 1
        layers: list[nn.Sequential] = []
        for i, (blocks, planes) in enumerate(zip(cfg.layers, cfg.widths, strict=True)):
            stride = 1 if i == 0 else 2
            previous = dilation
            if i > 0 and cfg.dilate[i]:  # torchvision: dilation replaces the stride
                dilation, stride = dilation * stride, 1
            downsample = None
            if stride != 1 or cin != planes * block.expansion:
                downsample = nn.Sequential(
                    nn.Conv2d(cin, planes * block.expansion, 1, stride, bias=False),
                    nn.BatchNorm2d(planes * block.expansion),
                )
            seq = [block(cin, planes, stride, previous, downsample)]
            cin = planes * block.expansion
            seq += [block(cin, planes, 1, dilation, None) for _ in range(blocks - 1)]
            layers.append(nn.Sequential(*seq))
        # Attributes layer1..layer4, exactly torchvision's names; absent layers are identities.
        padded = layers + [nn.Sequential() for _ in range(4 - len(layers))]
        self.layer1, self.layer2, self.layer3, self.layer4 = padded
        self.out_channels = cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))
