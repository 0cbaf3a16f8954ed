"""Head outputs -> boxes: 3x3 max-pool peak NMS, top-K, boxes mapped back to input pixels.

All of it runs inside the exported TorchScript module, so a user of the detector sees only the
contract: (B, 3, H, W) RGB 0..255 -> (B, K, 5) [x1, y1, x2, y2, score] in input pixels.

Coordinates are continuous (pixel i spans [i, i + 1)); output cell j at stride s spans
[j*s, (j+1)*s) and is centred on (j + 0.5) * s, which is the project's pixel-centre convention
((j + 0.5) * s - 0.5) shifted by half a pixel. Box centres decode as (j + offset + 0.5) * s.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from service.detector.net import DetectorNet, HeadOutputs


def working_size(height: int, width: int, long_side: int) -> tuple[int, int]:
    """(H, W) -> (h, w) with max(h, w) == long_side and the aspect ratio kept (rounded)."""
    scale = float(long_side) / float(max(height, width))
    return max(1, int(round(height * scale))), max(1, int(round(width * scale)))


def padded_size(height: int, width: int, multiple: int) -> tuple[int, int]:
    return -(-height // multiple) * multiple, -(-width // multiple) * multiple


def normalise_and_pad(
    image: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, multiple: int
) -> torch.Tensor:
    """(B, 3, h, w) RGB 0..255 -> (B, 3, h', w') normalised, zero-padded right/bottom."""
    x = (image / 255.0 - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    ph, pw = padded_size(x.shape[2], x.shape[3], multiple)
    return F.pad(x, [0, pw - x.shape[3], 0, ph - x.shape[2]])


def decode_heads(
    heads: HeadOutputs,
    stride: int,
    max_detections: int,
    threshold: float,
    max_log_size: float,
    valid_height: int,
    valid_width: int,
) -> torch.Tensor:
    """Head outputs (B, *, h, w) -> (B, K, 5) boxes in working pixels, sorted by score.

    A cell is a detection when its heatmap is a 3x3 local maximum (CenterNet's peak NMS) and it
    starts inside the valid (unpadded) `valid_height` x `valid_width` pixels; rows under
    `threshold` and rows beyond the h*w cells are padding: all five values 0.
    """
    heat = torch.sigmoid(heads.heatmap)  # (B, 1, h, w)
    peaks = heat * (F.max_pool2d(heat, 3, 1, 1) == heat).to(heat.dtype)
    rows = (valid_height + stride - 1) // stride
    cols = (valid_width + stride - 1) // stride
    peaks[:, :, rows:, :] = 0.0
    peaks[:, :, :, cols:] = 0.0
    b, _, h, w = heat.shape
    k = min(max_detections, h * w)
    scores, index = peaks.reshape(b, h * w).topk(k, dim=1)  # (B, k) sorted, descending
    gather = index.unsqueeze(1).expand(b, 2, k)
    log_size = heads.size.reshape(b, 2, h * w).gather(2, gather).clamp(-8.0, max_log_size)
    offset = heads.offset.reshape(b, 2, h * w).gather(2, gather)  # (B, 2, k)
    cx = ((index % w).to(heat.dtype) + offset[:, 0] + 0.5) * stride
    cy = (torch.div(index, w, rounding_mode="floor").to(heat.dtype) + offset[:, 1] + 0.5) * stride
    half_w = torch.exp(log_size[:, 0]) * (stride / 2.0)
    half_h = torch.exp(log_size[:, 1]) * (stride / 2.0)
    boxes = torch.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h, scores], dim=2)
    boxes = boxes * (scores >= threshold).unsqueeze(2).to(boxes.dtype)  # (B, k, 5)
    return F.pad(boxes, [0, 0, 0, max_detections - k])


class InferenceDetector(nn.Module):
    """The exported module: any-size RGB 0..255 image batch -> (B, K, 5) boxes in its pixels."""

    def __init__(self, net: DetectorNet) -> None:
        super().__init__()
        cfg = net.config
        self.net = net
        self.long_side = cfg.input_long_side
        self.multiple = cfg.pad_multiple
        self.stride = cfg.output_stride
        self.max_detections = cfg.max_detections
        self.threshold = cfg.score_threshold
        self.max_log_size = math.log(4.0 * cfg.input_long_side / cfg.output_stride)
        self.mean = list(cfg.mean)
        self.std = list(cfg.std)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.detect(image)

    def detect(self, image: torch.Tensor) -> torch.Tensor:
        if image.dim() != 4 or image.shape[1] != 3:
            raise ValueError("expected a float tensor (B, 3, H, W), RGB in 0..255")
        height, width = image.shape[2], image.shape[3]
        h, w = working_size(height, width, self.long_side)
        x = image.float().contiguous()
        if (h, w) != (height, width):
            x = F.interpolate(x, size=[h, w], mode="bilinear", align_corners=False, antialias=True)
        mean = torch.tensor(self.mean, device=x.device)
        std = torch.tensor(self.std, device=x.device)
        x = normalise_and_pad(x, mean, std, self.multiple)
        heads = self.net(x)
        boxes = decode_heads(
            heads, self.stride, self.max_detections, self.threshold, self.max_log_size, h, w
        )
        return to_input_pixels(boxes, h / float(height), w / float(width), height, width)


def to_input_pixels(
    boxes: torch.Tensor, scale_y: float, scale_x: float, height: int, width: int
) -> torch.Tensor:
    """(B, K, 5) in working pixels -> input pixels, clipped to the image; padding stays 0."""
    x = (boxes[..., 0::2][..., :2] / scale_x).clamp(0.0, float(width))
    y = (boxes[..., 1::2][..., :2] / scale_y).clamp(0.0, float(height))
    return torch.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1], boxes[..., 4]], dim=-1)
