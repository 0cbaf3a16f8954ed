"""PoseNet = normalisation + ResNet backbone + staged head; InferenceNet = last stage only.

`build_network` also builds the VGG19 6-stage presets of `openpose` (OpenPoseNet: the same
contract, per-stage (maps, fields), at stride 8), so `boxpose train pose --preset vgg-6stage`
trains Table III's baseline."""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from service.network.backbone import ResNetBackbone
from service.network.config import PRESETS, NetworkConfig
from service.network.normalize import Normalize
from service.network.openpose import OPENPOSE_PRESETS, OpenPoseConfig, OpenPoseNet
from service.skeleton import COCO18, Skeleton


class PoseNet(nn.Module):
    """(B, 3, H, W) RGB in 0..255, any H, W -> T x (maps (B, J+1, h, w), fields (B, 2C, h, w)),
    h = ceil(H / output_stride), w = ceil(W / output_stride)."""

    def __init__(self, cfg: NetworkConfig, skeleton: Skeleton) -> None:
        super().__init__()
        from service.network.heads import StagedHead

        self.config = cfg
        self.feature_stride = cfg.feature_stride
        self.output_stride = cfg.output_stride
        self.normalize = Normalize(cfg.mean, cfg.std)
        self.backbone = ResNetBackbone(cfg.backbone)
        self.head = StagedHead(
            self.backbone.out_channels, skeleton.num_maps, skeleton.num_field_channels, cfg.head
        )

    def forward(self, image: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        height, width = image.shape[-2], image.shape[-1]
        x = self.normalize(image)
        # Pad right/bottom to a multiple of the feature stride (zero = the mean colour).
        s = self.feature_stride
        x = F.pad(x, [0, (s - width % s) % s, 0, (s - height % s) % s])
        h = (height + self.output_stride - 1) // self.output_stride
        w = (width + self.output_stride - 1) // self.output_stride
        return [(m[:, :, :h, :w], f[:, :, :h, :w]) for m, f in self.head(self.backbone(x))]


# Every network `boxpose train pose` trains: (B, 3, H, W) RGB 0..255 -> per-stage (maps, fields).
StagedNet = PoseNet | OpenPoseNet


class InferenceNet(nn.Module):
    """The exported module: last stage only, (maps, fields)."""

    def __init__(self, net: PoseNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        outputs = self.net(image)
        return outputs[-1]


def build_network(preset: str | NetworkConfig | OpenPoseConfig, skeleton: Skeleton) -> StagedNet:
    """A preset name (PRESETS or OPENPOSE_PRESETS) or config -> an untrained network."""
    if isinstance(preset, str):
        if preset in OPENPOSE_PRESETS:
            preset = OPENPOSE_PRESETS[preset]
        elif preset in PRESETS:
            preset = PRESETS[preset]
        else:
            raise ValueError(f"unknown preset {preset!r}; choose from "
                             f"{sorted(PRESETS) + sorted(OPENPOSE_PRESETS)}")
    if isinstance(preset, OpenPoseConfig):
        if preset.outputs == "openpose" and skeleton.name != COCO18.name:
            raise ValueError(f"preset {preset.name!r} predicts OpenPose's COCO-18 channels: "
                             f"use --skeleton coco18, or vgg-6stage for {skeleton.name}")
        return OpenPoseNet(preset, skeleton)
    return PoseNet(preset, skeleton)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def load_backbone_weights(
    net: PoseNet, state_dict: Mapping[str, torch.Tensor]
) -> tuple[list[str], list[str]]:
    """Load torchvision-named ResNet weights (e.g. ImageNet) into the backbone by name.

    Keys of the classifier (`fc.*`) and keys whose shape does not match are skipped. Returns
    (loaded keys, skipped keys); raises ValueError when nothing matched, which means the file is
    not a ResNet state dict of a compatible shape.
    """
    own = net.backbone.state_dict()
    loaded, skipped = [], []
    update = {}
    for key, value in state_dict.items():
        key = key.removeprefix("module.").removeprefix("backbone.")
        if key in own and own[key].shape == value.shape:
            update[key] = value
            loaded.append(key)
        else:
            skipped.append(key)
    if not loaded:
        raise ValueError("no backbone weights matched by name and shape")
    own.update(update)
    net.backbone.load_state_dict(own)
    return loaded, skipped
