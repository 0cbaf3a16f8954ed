"""The T two-branch stages (Sec. III-A, Fig. 3): maps first, then fields from features + maps."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from service.network.config import HeadConfig


def conv_block(cin: int, cout: int, kernel: int, norm: bool) -> list[nn.Module]:
    """Conv + (BatchNorm) + ReLU. Batch norm lets the head train from scratch at a high learning
    rate (without it, default-initialised stacks shrink the signal layer by layer)."""
    conv = nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=not norm)
    return [conv, nn.BatchNorm2d(cout), nn.ReLU(inplace=True)] if norm else [
        conv, nn.ReLU(inplace=True)]


def _conv_stack(cin: int, width: int, count: int, kernel: int, norm: bool) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i in range(count):
        layers += conv_block(cin if i == 0 else width, width, kernel, norm)
    return layers


class Branch(nn.Module):
    """(B, cin, h, w) at stride 8 -> (B, cout, 2h, 2w) with the 2x deconvolution, else (h, w)."""

    def __init__(self, cin: int, cout: int, cfg: HeadConfig, first: bool) -> None:
        super().__init__()
        kernel = cfg.first_kernel if first else cfg.refine_kernel
        convs = cfg.first_convs if first else cfg.refine_convs
        width, hidden = cfg.branch_channels, cfg.hidden_channels
        self.body = nn.Sequential(
            *_conv_stack(cin, width, convs, kernel, cfg.norm),
            *conv_block(width, hidden, 1, cfg.norm),
        )
        if cfg.upsample:
            self.up: nn.Module = nn.Sequential(
                nn.ConvTranspose2d(hidden, cfg.deconv_channels, 4, stride=2, padding=1,
                                   bias=not cfg.norm),
                *([nn.BatchNorm2d(cfg.deconv_channels)] if cfg.norm else []),
                nn.ReLU(inplace=True),
            )
            hidden = cfg.deconv_channels
        else:
            self.up = nn.Identity()
        self.predict = nn.Conv2d(hidden, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.predict(self.up(self.body(x)))


class Stage(nn.Module):
    """Stage t: input F (+ stage t-1 outputs); the field branch also sees this stage's maps."""

    def __init__(
        self, cin: int, num_maps: int, num_fields: int, cfg: HeadConfig, first: bool
    ) -> None:
        super().__init__()
        self.upsample = cfg.upsample
        self.maps = Branch(cin, num_maps, cfg, first)
        self.fields = Branch(cin + num_maps, num_fields, cfg, first)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        maps = self.maps(x)  # (B, J+1, h', w')
        pooled = F.avg_pool2d(maps, 2) if self.upsample else maps  # back on the feature grid
        fields = self.fields(torch.cat([x, pooled], 1))  # (B, 2C, h', w')
        return maps, fields


def _feature_grid(maps: torch.Tensor, fields: torch.Tensor, upsample: bool) -> torch.Tensor:
    """A stage's outputs brought back to the feature grid (stride 8), for the next stage."""
    both = torch.cat([maps, fields], 1)
    return F.avg_pool2d(both, 2) if upsample else both


class StagedHead(nn.Module):
    """(B, C_backbone, h, w) -> list of T (maps, fields)."""

    def __init__(self, cin: int, num_maps: int, num_fields: int, cfg: HeadConfig) -> None:
        super().__init__()
        self.reduce = nn.Sequential(
            *conv_block(cin, cfg.feature_channels, cfg.reduce_kernel, cfg.norm)
        )
        self.upsample = cfg.upsample
        feat, extra = cfg.feature_channels, num_maps + num_fields
        self.stages = nn.ModuleList(
            [Stage(feat if t == 0 else feat + extra, num_maps, num_fields, cfg, t == 0)
             for t in range(cfg.stages)]
        )

    def forward(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        features = self.reduce(x)  # F
        outputs: list[tuple[torch.Tensor, torch.Tensor]] = []
        stage_input = features
        for stage in self.stages:
            maps, fields = stage(stage_input)
            outputs.append((maps, fields))
            stage_input = torch.cat([features, _feature_grid(maps, fields, self.upsample)], 1)
        return outputs
