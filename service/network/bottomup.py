"""Image -> (confidence maps, direction fields, person boxes) in one forward pass: a pretrained
trunk's stride-4 features, two head stages for the paper's maps and fields (Eq. 1-4), and a
CenterNet-style box head whose decoding (peaks of the centre heatmap, box size at each peak)
runs inside the module, so one TorchScript call serves boxes and poses.

Head convolutions are depthwise-separable (depthwise k x k, then 1 x 1), as in the BlazePose
trunk itself: at stride 4 a plain 3 x 3 convolution of 64 channels over an 848 x 480 image costs
~0.9 GMAC, the separable one a seventh of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from service.network.trunks import Trunk
from service.skeleton import Skeleton


@dataclass(frozen=True)
class BottomUpConfig:
    name: str = "bottomup-blazepose"
    trunk: str = "blazepose-full"  # service.network.trunks
    width: int = 64  # head channels
    kernel: int = 5  # depthwise kernel of the head blocks
    stage1_blocks: int = 2
    stage2_blocks: int = 3
    box_blocks: int = 2
    max_boxes: int = 64  # K rows of the decoded box output
    box_threshold: float = 0.05  # rows below it are zeroed (the service applies its own too)


def separable(channels: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels, channels, kernel, padding=kernel // 2, groups=channels, bias=False),
        nn.Conv2d(channels, channels, 1, bias=False),
        nn.BatchNorm2d(channels),
        nn.ReLU(inplace=True),
    )


def _stage(in_ch: int, cfg: BottomUpConfig, blocks: int, out_ch: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(in_ch, cfg.width, 1, bias=False),
                               nn.BatchNorm2d(cfg.width), nn.ReLU(inplace=True)]  # fmt: skip
    layers += [separable(cfg.width, cfg.kernel) for _ in range(blocks)]
    layers.append(nn.Conv2d(cfg.width, out_ch, 1))
    return nn.Sequential(*layers)


class BoxDecoder(nn.Module):
    """(B, 3, h, w) [centre logit, log(w/s), log(h/s)] -> (B, K, 5) x1, y1, x2, y2, score in
    input pixels: local maxima (3 x 3) of the centre heatmap, the K best."""

    def __init__(self, stride: int, max_boxes: int, threshold: float) -> None:
        super().__init__()
        self.stride, self.max_boxes, self.threshold = stride, max_boxes, threshold

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        b, _, h, w = raw.shape
        heat = torch.sigmoid(raw[:, 0])  # (B, h, w)
        peaks = heat * (F.max_pool2d(heat, 3, 1, 1) == heat).to(heat.dtype)
        k = min(self.max_boxes, h * w)
        score, index = peaks.reshape(b, -1).topk(k, dim=1)  # (B, K)
        row = torch.div(index, w, rounding_mode="floor")
        col = index - row * w
        s = float(self.stride)
        cx, cy = (col.to(raw.dtype) + 0.5) * s - 0.5, (row.to(raw.dtype) + 0.5) * s - 0.5
        sizes = raw[:, 1:3].reshape(b, 2, -1)  # (B, 2, h*w)
        bw = torch.exp(sizes[:, 0].gather(1, index).clamp(max=8.0)) * s
        bh = torch.exp(sizes[:, 1].gather(1, index).clamp(max=8.0)) * s
        rows = torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2, score], dim=2)
        return rows * (score >= self.threshold).to(rows.dtype).unsqueeze(2)  # (B, K, 5)


class BottomUpNet(nn.Module):
    """(B, 3, H, W) RGB 0..255, any H, W -> per stage (maps (B, J+1, h, w), fields (B, 2C, h, w))
    and the raw box head (B, 3, h, w); h = ceil(H / 4), w = ceil(W / 4)."""

    output_stride = 4

    def __init__(self, cfg: BottomUpConfig, skeleton: Skeleton, trunk: Trunk,
                 trunk_channels: int, pad_multiple: int) -> None:
        super().__init__()
        self.config, self.pad_multiple = cfg, pad_multiple
        self.num_maps = skeleton.num_maps
        out = skeleton.num_maps + skeleton.num_field_channels
        self.trunk = trunk
        self.stage1 = _stage(trunk_channels, cfg, cfg.stage1_blocks, out)
        self.stage2 = _stage(trunk_channels + out, cfg, cfg.stage2_blocks, out)
        self.box_head = _stage(trunk_channels + out, cfg, cfg.box_blocks, 3)
        last = self.box_head[-1]
        assert isinstance(last, nn.Conv2d) and last.bias is not None
        with torch.no_grad():  # CenterNet's prior: the centre heatmap starts near 0.01
            last.bias[0] = -4.6

    def forward(
        self, image: torch.Tensor
    ) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], torch.Tensor]:
        height, width = image.shape[-2], image.shape[-1]
        m = self.pad_multiple
        x = F.pad(image / 255.0, [0, (m - width % m) % m, 0, (m - height % m) % m])
        feats = self.trunk.features(x)  # (B, F, H'/4, W'/4)
        h, w = (height + 3) // 4, (width + 3) // 4
        first = self.stage1(feats)
        joined = torch.cat([feats, first], 1)
        second = self.stage2(joined)
        boxes = self.box_head(torch.cat([feats, second], 1))
        n = self.num_maps
        outputs = [(o[:, :n, :h, :w], o[:, n:, :h, :w]) for o in (first, second)]
        return outputs, boxes[:, :, :h, :w]


class BottomUpInference(nn.Module):
    """The exported module: (maps, fields, boxes (B, K, 5) in input pixels)."""

    def __init__(self, net: BottomUpNet) -> None:
        super().__init__()
        self.net = net
        self.decode = BoxDecoder(net.output_stride, net.config.max_boxes,
                                 net.config.box_threshold)  # fmt: skip

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        outputs, raw_boxes = self.net(image)
        maps, fields = outputs[-1]
        return maps, fields, self.decode(raw_boxes)
