"""MediaPipe's BlazePose person detector (pose_detection.tflite) as explicit PyTorch layers.

An SSD on a 224 x 224 RGB input in [-1, 1]: MobileNetV2 encoder to stride 32, a small
top-down path (bilinear 2x + lateral + two residual units) back to strides 16 and 8, and per
level a classifier and a regressor (depthwise 3x3 stride 2 + 1x1) read from the next-finer level
after TF's depth-to-space. 2254 anchors: 28x28x2 (stride 8), 14x14x2 (stride 16), 7x7x6 (stride
32). Each anchor regresses 12 numbers: box (cx, cy, w, h) and four keypoints (x, y): hip centre,
a point on the full-body circle, shoulder centre, a point on the upper-body circle (in input px,
relative to the anchor centre).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from service.network.blazeblocks import (
    Conv,
    InvertedResidual,
    Lateral,
    ResUnit,
    convs_of,
    first_block,
)
from service.network.blazeblocks import upsample2x as _up

INPUT_SIZE = 224
NUM_COORDS = 12
ANCHORS_PER_CELL = (2, 2, 6)  # at strides 8, 16, 32


def depth_to_space(x: torch.Tensor, block: int) -> torch.Tensor:
    """TF DEPTH_TO_SPACE (DCR order) in NCHW: (B, C*b*b, H, W) -> (B, C, H*b, W*b).

    Input channel (i*b + j)*C + c goes to output channel c at offset (i, j); PyTorch's
    pixel_shuffle uses c*b*b + i*b + j instead, hence the explicit permutation."""
    b, c, h, w = x.shape
    out_c = c // (block * block)
    x = x.reshape(b, block, block, out_c, h, w)  # (B, i, j, C, H, W)
    x = x.permute(0, 3, 4, 1, 5, 2)  # (B, C, H, i, W, j)
    return x.reshape(b, out_c, h * block, w * block)


class Head(nn.Module):
    """(B, C, H, W) -> (B, H/2 * W/2 * A, k): depthwise 3x3 stride 2, 1x1, anchors last."""

    def __init__(self, c: int, anchors: int, k: int) -> None:
        super().__init__()
        self.dw = Conv(c, c, 3, 2, depthwise=True, act=False)
        self.pw = Conv(c, anchors * k, act=False)
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pw(self.dw(x))  # (B, A*k, h, w)
        return y.permute(0, 2, 3, 1).reshape(y.shape[0], -1, self.k)  # (h, w, a) order


class BlazePoseDetectorNet(nn.Module):
    """(B, 3, 224, 224) RGB in [-1, 1] -> (regressors (B, 2254, 12), logits (B, 2254, 1))."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = Conv(3, 24, 3, 2)
        self.block0 = InvertedResidual(24, 24, 16, 3, 1)
        self.stage4 = nn.Sequential(InvertedResidual(16, 64, 24, 3, 2),
                                    InvertedResidual(24, 144, 24, 3, 1))
        self.stage8 = nn.Sequential(InvertedResidual(24, 144, 40, 5, 2),
                                    InvertedResidual(40, 240, 40, 5, 1))
        self.lat8 = Lateral(40, 96, dw_act=False)
        self.stage16 = nn.Sequential(*[InvertedResidual(*s) for s in (
            (40, 240, 80, 3, 2), (80, 480, 80, 3, 1), (80, 480, 80, 3, 1), (80, 480, 112, 5, 1),
            (112, 672, 112, 5, 1), (112, 672, 112, 5, 1))])
        self.lat16 = Lateral(112, 192, dw_act=False)
        self.stage32 = nn.Sequential(*[InvertedResidual(*s) for s in (
            (112, 672, 192, 5, 2), (192, 1152, 192, 5, 1), (192, 1152, 192, 5, 1),
            (192, 1152, 192, 5, 1))])
        self.neck = nn.Sequential(Conv(192, 1152), Conv(1152, 1152, 3, depthwise=True))
        self.up16 = Conv(1152, 192)
        self.res16 = nn.Sequential(ResUnit(192, dw_act=False), ResUnit(192, dw_act=False))
        self.up8 = Conv(192, 96)
        self.res8 = nn.Sequential(ResUnit(96, dw_act=False), ResUnit(96, dw_act=False))
        a8, a16, a32 = ANCHORS_PER_CELL
        self.cls8, self.reg8 = Head(24, a8, 1), Head(24, a8, NUM_COORDS)
        self.cls16, self.reg16 = Head(48, a16, 1), Head(48, a16, NUM_COORDS)
        self.cls32, self.reg32 = Head(288, a32, 1), Head(288, a32, NUM_COORDS)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.stage4(self.block0(self.stem(image)))
        x8 = self.stage8(x)  # (B, 40, H/8, W/8)
        x16 = self.stage16(x8)  # (B, 112, H/16, W/16)
        neck = self.neck(self.stage32(x16))  # (B, 1152, H/32, W/32)
        y16 = self.res16(self.up16(_up(neck)) + self.lat16(x16))  # (B, 192, H/16, W/16)
        y8 = self.res8(self.up8(_up(y16)) + self.lat8(x8))  # (B, 96, H/8, W/8)
        f8, f16, f32 = depth_to_space(y8, 2), depth_to_space(y16, 2), depth_to_space(neck, 2)
        reg = torch.cat([self.reg8(f8), self.reg16(f16), self.reg32(f32)], dim=1)
        cls = torch.cat([self.cls8(f8), self.cls16(f16), self.cls32(f32)], dim=1)
        return reg, cls

    def tflite_order(self) -> list[Conv]:
        """The `Conv` layers in the order the .tflite file runs its convolutions."""
        order = convs_of(self.stem) + convs_of(self.block0)
        for stage, lateral in ((self.stage4, None), (self.stage8, None),
                               (self.stage16, self.lat8), (self.stage32, self.lat16)):
            first = first_block(stage)  # its expansion runs before the lateral above
            order += convs_of(first.expand) + (convs_of(lateral) if lateral else [])
            order += convs_of(first.dw) + convs_of(first.project) + convs_of(stage[1:])
        for part in (self.neck, self.up16, self.res16, self.up8, self.res8, self.cls8, self.reg8,
                     self.cls16, self.reg16, self.cls32, self.reg32):
            order += convs_of(part)
        return order


def detector_net_from_tflite(path: str | Path) -> BlazePoseDetectorNet:
    """pose_detection.tflite -> BlazePoseDetectorNet with its weights (fp16 + sparse -> fp32)."""
    from service.importers.blazepose import load_tflite_weights

    net = BlazePoseDetectorNet()
    load_tflite_weights(net.tflite_order(), path)
    return net.eval()
