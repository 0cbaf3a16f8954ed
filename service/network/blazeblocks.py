"""Layers of MediaPipe's Blaze networks (BlazePose landmarks, pose detector) as PyTorch modules.

Each TFLite CONV_2D / DEPTHWISE_CONV_2D with its fused bias and activation becomes one `Conv`
(an `nn.Conv2d` with a bias, then ReLU6 or nothing). TFLite's PAD-then-VALID stride-2 convolutions
are symmetric zero padding (`padding=k // 2`); its SAME stride-2 convolution pads
`max((ceil(n/2)-1)*2 + k - n, 0)` split with the extra pixel at the bottom/right (`tf_same`).
Bilinear 2x resizes are `half_pixel_centers=True, align_corners=False`, which is PyTorch's
`align_corners=False` (see `upsample2x`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# TFLite ActivationFunctionType -> whether it is ReLU6 (the only activation these files fuse)
RELU6 = 3


class Conv(nn.Module):
    """(B, cin, H, W) -> (B, cout, H/stride, W/stride): conv + bias (+ ReLU6)."""

    def __init__(self, cin: int, cout: int, k: int = 1, stride: int = 1, depthwise: bool = False,
                 act: bool = True, tf_same: bool = False, valid: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, padding=0 if tf_same or valid else k // 2,
                              groups=cin if depthwise else 1, bias=True)
        self.act = act
        self.tf_same = tf_same
        self.depthwise = depthwise

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.tf_same:
            x = _tf_same_pad(x, self.conv.kernel_size[0], self.conv.stride[0])
        y = self.conv(x)
        return F.relu6(y) if self.act else y


def _tf_same_pad(x: torch.Tensor, k: int, stride: int) -> torch.Tensor:
    """TensorFlow SAME padding: the odd pixel goes after (bottom / right)."""
    h, w = x.shape[-2], x.shape[-1]
    ph = max((-(-h // stride) - 1) * stride + k - h, 0)
    pw = max((-(-w // stride) - 1) * stride + k - w, 0)
    return F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])


def upsample2x(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, 2H, 2W), TFLite RESIZE_BILINEAR with half_pixel_centers."""
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand (ReLU6), kxk depthwise (ReLU6), 1x1 linear projection.

    No expansion when `cexp == cin`; a residual add when the block keeps shape.
    (B, cin, H, W) -> (B, cout, H/stride, W/stride).
    """

    def __init__(self, cin: int, cexp: int, cout: int, k: int, stride: int) -> None:
        super().__init__()
        self.expand = Conv(cin, cexp) if cexp != cin else nn.Identity()
        self.dw = Conv(cexp, cexp, k, stride, depthwise=True)
        self.project = Conv(cexp, cout, act=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.dw(self.expand(x)))
        return y + x if self.residual else y


class Lateral(nn.Module):
    """Depthwise 3x3 then 1x1 (B, cin, H, W) -> (B, cout, H, W); ReLU6 after each when `act`."""

    def __init__(self, cin: int, cout: int, dw_act: bool = True, pw_act: bool = True) -> None:
        super().__init__()
        self.dw = Conv(cin, cin, 3, depthwise=True, act=dw_act)
        self.pw = Conv(cin, cout, act=pw_act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw(self.dw(x))


class ResUnit(nn.Module):
    """relu6(shortcut(x) + 1x1(dw3x3(x))); stride 2 takes a 2x2 max-pool as the shortcut.

    (B, C, H, W) -> (B, C, H/stride, W/stride).
    """

    def __init__(self, c: int, stride: int = 1, dw_act: bool = True) -> None:
        super().__init__()
        self.dw = Conv(c, c, 3, stride, depthwise=True, act=dw_act, tf_same=stride > 1)
        self.pw = Conv(c, c, act=False)
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = F.max_pool2d(x, self.stride, self.stride) if self.stride > 1 else x
        return F.relu6(shortcut + self.pw(self.dw(x)))


@dataclass(frozen=True)
class ConvWeights:
    """One TFLite convolution: weight in TFLite layout (OHWI / 1HWC), bias (O,), its options."""

    depthwise: bool
    weight: np.ndarray
    bias: np.ndarray
    stride: int
    relu6: bool


def convs_of(module: nn.Module) -> list[Conv]:
    """The `Conv` layers inside `module`, in registration order."""
    return [m for m in module.modules() if isinstance(m, Conv)]


def first_block(stage: nn.Sequential) -> InvertedResidual:
    """The first block of a stage (its expansion runs, in the files, before the lateral of the
    stage above: `tflite_order` needs it alone)."""
    block = stage[0]
    if not isinstance(block, InvertedResidual):
        raise TypeError(f"a stage starts with an InvertedResidual, not {type(block).__name__}")
    return block


def assign_weights(layers: list[Conv], weights: list[ConvWeights]) -> None:
    """Copy TFLite convolutions onto `layers` one to one; any mismatch in kind, shape, stride
    or activation raises ValueError (the layer order is wrong)."""
    if len(layers) != len(weights):
        raise ValueError(f"{len(layers)} layers for {len(weights)} TFLite convolutions")
    for i, (layer, w) in enumerate(zip(layers, weights, strict=True)):
        # OHWI -> OIHW; depthwise 1HWC -> C1HW
        arr = w.weight.transpose(3, 0, 1, 2) if w.depthwise else w.weight.transpose(0, 3, 1, 2)
        conv = layer.conv
        if (layer.depthwise != w.depthwise or tuple(conv.weight.shape) != arr.shape
                or conv.stride[0] != w.stride or layer.act != w.relu6):
            raise ValueError(f"conv {i}: layer {tuple(conv.weight.shape)} s{conv.stride[0]} "
                             f"act={layer.act} vs TFLite {arr.shape} s{w.stride} relu6={w.relu6}")
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(arr)))
            if conv.bias is not None:
                conv.bias.copy_(torch.from_numpy(w.bias.astype(np.float32)))
