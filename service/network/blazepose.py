"""MediaPipe's BlazePose landmark network (pose_landmark_full.tflite) as explicit PyTorch layers.

The same graph as the file, layer for layer (see docs/blazepose.md), with every weight an
`nn.Parameter`: an encoder of MobileNetV2 blocks down to stride 32, a decoder that upsamples
(bilinear 2x) and adds 48-channel laterals at strides 16, 8 and 4, and three heads:
- heatmaps: 1x1 conv on the stride-4 decoder features -> 39 maps (B, 39, H/4, W/4);
- segmentation: a small decoder from those features to full resolution (B, 1, H, W) logits;
- regression: from the stride-32 neck down to stride 128 (2x2 at 256 px) and three 2x2 convs:
  landmarks 39 x (x, y, z, visibility, presence) in input pixels, world landmarks 39 x 3 (m),
  and the pose flag (probability that a person is in the crop).
Input: (B, 3, H, W) RGB in [0, 1]. `features` and `heatmaps` run at any H, W multiple of 32
(the file's fixed resize sizes are 2x scale factors here); `forward` needs 256 x 256.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from service.network.blazeblocks import (
    Conv,
    InvertedResidual,
    Lateral,
    ResUnit,
    convs_of,
    first_block,
    upsample2x,
)

NUM_LANDMARKS = 39  # 33 body landmarks + 6 auxiliary (the two ROI points, ...)
FEATURE_CHANNELS = 48  # the stride-4 decoder features that the heatmap head reads
INPUT_SIZE = 256
STRIDE = 32  # H and W must be multiples of this


class LandmarkOutputs(NamedTuple):
    """The five outputs of pose_landmark_full.tflite, NCHW and split per landmark."""

    landmarks: torch.Tensor  # (B, 39, 5) x, y, z (input px), visibility, presence (logits)
    pose_flag: torch.Tensor  # (B, 1) probability
    segmentation: torch.Tensor  # (B, 1, H, W) logits
    heatmaps: torch.Tensor  # (B, 39, H/4, W/4)
    world: torch.Tensor  # (B, 39, 3) metres, hip-centred


def _ir(spec: list[tuple[int, int, int, int, int]]) -> nn.Sequential:
    return nn.Sequential(*[InvertedResidual(*s) for s in spec])


class BlazePoseLandmarkNet(nn.Module):
    """(B, 3, H, W) RGB in [0, 1] -> stride-4 features / heatmaps / all outputs at 256 px."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = Conv(3, 24, 3, 2)
        self.block0 = InvertedResidual(24, 24, 16, 3, 1)
        self.lat2 = Lateral(16, 8)
        self.stage4 = _ir([(16, 64, 24, 3, 2), (24, 144, 24, 3, 1)])
        self.lat4 = Lateral(24, FEATURE_CHANNELS)
        self.stage8 = _ir([(24, 144, 32, 5, 2), (32, 192, 32, 5, 1)])
        self.lat8 = Lateral(32, FEATURE_CHANNELS)
        self.stage16 = _ir([(32, 192, 64, 3, 2), (64, 384, 64, 3, 1), (64, 384, 64, 3, 1),
                            (64, 384, 88, 5, 1), (88, 528, 88, 5, 1), (88, 528, 88, 5, 1)])
        self.lat16 = Lateral(88, FEATURE_CHANNELS)
        self.stage32 = _ir([(88, 528, 144, 5, 2), (144, 864, 144, 5, 1), (144, 864, 144, 5, 1),
                            (144, 864, 144, 5, 1)])
        self.neck = nn.Sequential(Conv(144, 864), Conv(864, 864, 3, depthwise=True))
        self.top = Lateral(864, FEATURE_CHANNELS)
        self.heatmap = Conv(FEATURE_CHANNELS, NUM_LANDMARKS, act=False)
        self.seg_in = Lateral(FEATURE_CHANNELS, 8)
        self.seg2 = nn.Sequential(ResUnit(8), ResUnit(8))
        self.seg1 = nn.Sequential(ResUnit(8), ResUnit(8))
        self.seg_out = Conv(8, 1, 3, act=False)
        self.reg_in = Lateral(864, 288)
        self.reg64 = nn.Sequential(ResUnit(288, 2), *[ResUnit(288) for _ in range(4)])
        self.reg128 = nn.Sequential(ResUnit(288, 2), *[ResUnit(288) for _ in range(5)])
        self.landmark_head = Conv(288, NUM_LANDMARKS * 5, 2, act=False, valid=True)
        self.world_head = Conv(288, NUM_LANDMARKS * 3, 2, act=False, valid=True)
        self.flag_head = Conv(288, 1, 2, act=False, valid=True)

    def _encode(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, 3, H, W) -> neck (B, 864, H/32, W/32), features (B, 48, H/4, W/4),
        stride-2 activations (B, 16, H/2, W/2)."""
        x2 = self.block0(self.stem(image))
        x = self.stage4(x2)
        skip4 = self.lat4(x)
        x = self.stage8(x)
        skip8 = self.lat8(x)
        x = self.stage16(x)
        skip16 = self.lat16(x)
        neck = self.neck(self.stage32(x))
        y = upsample2x(self.top(neck)) + skip16
        y = upsample2x(y) + skip8
        y = upsample2x(y) + skip4  # (B, 48, H/4, W/4)
        return neck, y, x2

    @torch.jit.export
    def features(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) RGB in [0, 1], H and W multiples of 32 -> (B, 48, H/4, W/4)."""
        return self._encode(image)[1]

    @torch.jit.export
    def heatmaps(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, 39, H/4, W/4) landmark heatmaps (any H, W multiple of 32)."""
        return self.heatmap(self.features(image))

    @torch.jit.export
    def pose(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, 3, 256, 256) -> landmarks (B, 39, 5), pose flag (B, 1), heatmaps (B, 39, 64, 64);
        `forward` without the segmentation decoder."""
        neck, feats, _ = self._encode(image)
        reg = self.reg128(self.reg64(self.reg_in(neck)))  # (B, 288, H/128, W/128)
        b = image.shape[0]
        return (self.landmark_head(reg).reshape(b, -1, 5),
                torch.sigmoid(self.flag_head(reg)).reshape(b, 1), self.heatmap(feats))

    def forward(self, image: torch.Tensor) -> LandmarkOutputs:
        """(B, 3, 256, 256) RGB in [0, 1] -> the file's outputs (see `LandmarkOutputs`)."""
        neck, feats, x2 = self._encode(image)
        seg = upsample2x(self.seg_in(feats)) + self.lat2(x2)
        seg = self.seg_out(self.seg1(upsample2x(self.seg2(seg))))
        reg = self.reg128(self.reg64(self.reg_in(neck)))  # (B, 288, H/128, W/128)
        b = image.shape[0]
        return LandmarkOutputs(
            landmarks=self.landmark_head(reg).reshape(b, -1, 5),
            pose_flag=torch.sigmoid(self.flag_head(reg)).reshape(b, 1),
            segmentation=seg,
            heatmaps=self.heatmap(feats),
            world=self.world_head(reg).reshape(b, -1, 3),
        )

    def tflite_order(self) -> list[Conv]:
        """The `Conv` layers in the order the .tflite file runs its convolutions."""
        order = convs_of(self.stem) + convs_of(self.block0)
        pairs = ((self.stage4, self.lat2), (self.stage8, self.lat4), (self.stage16, self.lat8),
                 (self.stage32, self.lat16))
        for stage, lateral in pairs:
            first = first_block(stage)  # its expansion runs before the lateral above
            order += convs_of(first.expand) + convs_of(lateral) + convs_of(first.dw)
            order += convs_of(first.project) + convs_of(stage[1:])
        for part in (self.neck, self.top, self.seg_in, self.seg2, self.seg1, self.seg_out,
                     self.heatmap, self.reg_in, self.reg64, self.reg128, self.landmark_head,
                     self.world_head, self.flag_head):
            order += convs_of(part)
        return order


def landmark_net_from_tflite(path: str | Path) -> BlazePoseLandmarkNet:
    """pose_landmark_full.tflite -> BlazePoseLandmarkNet with its weights (fp16 -> fp32)."""
    from service.importers.blazepose import load_tflite_weights

    net = BlazePoseLandmarkNet()
    load_tflite_weights(net.tflite_order(), path)
    return net.eval()


def landmark_net_from_torchscript(path: str | Path) -> BlazePoseLandmarkNet:
    """The committed model_store/blazepose-topdown/model.pt (a TopdownLandmarks script holding
    the net as `net`) -> a trainable BlazePoseLandmarkNet with the same weights."""
    script = torch.jit.load(str(path), map_location="cpu")
    state = {k.removeprefix("net."): v for k, v in script.state_dict().items()
             if k.startswith("net.")}  # fmt: skip
    net = BlazePoseLandmarkNet()
    net.load_state_dict(state)
    return net.eval()
