"""TensorFlow ops whose exact PyTorch form is more than one call: NCHW tensors in and out.

Shared by `tf_torch`'s rebuilt graphs (they are what its torch.fx nodes call, so TorchScript
compiles them): TF's SAME padding and max pooling, `ResizeBilinear` in its three sampling modes,
a binary op with a constant (`Sub`, `Mul`, `AddV2` of a tensor and a Const), a lone `BiasAdd`.
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def same_pad(x: torch.Tensor, kernel_h: int, kernel_w: int, stride_h: int, stride_w: int,
             value: float) -> torch.Tensor:  # fmt: skip
    """(B, C, H, W) -> padded as TF's SAME padding does before a (k, s) window."""
    height, width = x.shape[-2], x.shape[-1]
    pad_h = max((-(-height // stride_h) - 1) * stride_h + kernel_h - height, 0)
    pad_w = max((-(-width // stride_w) - 1) * stride_w + kernel_w - width, 0)
    return F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2],
                 value=value)  # fmt: skip


def max_pool_same(x: torch.Tensor, kernel_h: int, kernel_w: int, stride_h: int, stride_w: int
                  ) -> torch.Tensor:  # fmt: skip
    """TF's MaxPool with SAME padding: padded cells never win (-inf)."""
    padded = same_pad(x, kernel_h, kernel_w, stride_h, stride_w, float("-inf"))
    return F.max_pool2d(padded, [kernel_h, kernel_w], [stride_h, stride_w])


def relu6(x: torch.Tensor) -> torch.Tensor:
    return torch.clamp(x, 0.0, 6.0)


def _legacy_axis(x: torch.Tensor, dim: int, out_size: int) -> torch.Tensor:
    """TF's legacy sampling along `dim` (neither align_corners nor half_pixel_centers): source
    coordinate out * in / out, upper neighbour clamped to the last cell."""
    in_size = x.shape[dim]
    scale = float(in_size) / float(out_size)
    src = torch.arange(out_size, dtype=torch.float32, device=x.device) * scale
    lower = torch.floor(src)
    frac = (src - lower).to(x.dtype)
    lo = lower.long().clamp(0, in_size - 1)
    hi = torch.clamp(lo + 1, max=in_size - 1)
    shape = [1, 1, 1, 1]
    shape[dim] = out_size
    frac = frac.view(shape)
    return x.index_select(dim, lo) * (1.0 - frac) + x.index_select(dim, hi) * frac


def resize_bilinear(x: torch.Tensor, height: int, width: int, align_corners: bool,
                    half_pixel_centers: bool) -> torch.Tensor:  # fmt: skip
    """TF's ResizeBilinear of (B, C, H, W) to (B, C, height, width). half_pixel_centers is
    F.interpolate's align_corners=False (source (o + 0.5) * in / out - 0.5, clamped at 0);
    align_corners is its align_corners=True; the legacy mode samples at o * in / out."""
    if half_pixel_centers or align_corners:
        return F.interpolate(x, size=[height, width], mode="bilinear",
                             align_corners=align_corners)  # fmt: skip
    return _legacy_axis(_legacy_axis(x, 2, height), 3, width)


def resize_scaled(x: torch.Tensor, reference: torch.Tensor, factor_h: int, factor_w: int,
                  align_corners: bool, half_pixel_centers: bool) -> torch.Tensor:  # fmt: skip
    """ResizeBilinear whose size the graph computes as Shape(reference)[1:3] * factor (Keras's
    UpSampling2D): the size folded to the reference's spatial size times the factor."""
    return resize_bilinear(x, reference.shape[2] * factor_h, reference.shape[3] * factor_w,
                           align_corners, half_pixel_centers)  # fmt: skip


def nchw_constant(value: np.ndarray) -> np.ndarray | None:
    """An NHWC-broadcastable constant -> its NCHW broadcast form; None when ambiguous."""
    value = np.asarray(value, np.float32)
    if value.size == 1:
        return value.reshape(())
    if value.ndim == 1:  # over the channels (the last NHWC axis)
        return value.reshape(-1, 1, 1)
    if value.ndim == 4:
        return value.transpose(0, 3, 1, 2)
    return None


class Bias(nn.Module):
    """A BiasAdd that follows no convolution: x + b over the channels."""

    def __init__(self, bias: np.ndarray) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.from_numpy(np.ascontiguousarray(bias, np.float32)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bias.view(1, -1, 1, 1)


class ConstBinary(nn.Module):
    """x (op) c or c (op) x for a graph constant c (a buffer: not trained, e.g. the input's
    normalisation); op is "add", "sub" or "mul"."""

    value: torch.Tensor

    def __init__(self, op: str, value: np.ndarray, constant_first: bool) -> None:
        super().__init__()
        self.op = op
        self.constant_first = constant_first
        self.register_buffer("value", torch.from_numpy(np.ascontiguousarray(value, np.float32)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = (self.value, x) if self.constant_first else (x, self.value)
        if self.op == "add":
            return a + b
        if self.op == "sub":
            return a - b
        return a * b
