"""Frozen network configurations and the named presets (Table III rows plus the CPU `lite`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class BackboneConfig:
    """A torchvision-style ResNet: same layer names, so ImageNet weights load by name."""

    block: str = "bottleneck"  # "basic" (ResNet18/34) or "bottleneck" (ResNet50+)
    layers: tuple[int, ...] = (3, 4, 6, 3)  # blocks per stage layer1..layerN
    widths: tuple[int, ...] = (64, 128, 256, 512)  # planes per layer (x4 out for bottleneck)
    stem_width: int = 64
    # Per layer: True replaces the layer's stride 2 by dilation 2 ("hole" convolutions), keeping
    # the features at stride 8 (torchvision's replace_stride_with_dilation).
    dilate: tuple[bool, ...] = (False, False, True, True)


@dataclass(frozen=True)
class HeadConfig:
    stages: int = 3
    feature_channels: int = 128  # backbone output reduced by a conv: F
    reduce_kernel: int = 1
    branch_channels: int = 128
    first_kernel: int = 3  # stage 1: `first_convs` convs of this size per branch (as OpenPose)
    first_convs: int = 3
    refine_kernel: int = 7  # stages t > 1: larger receptive field to resolve context
    refine_convs: int = 5
    hidden_channels: int = 128  # 1x1 conv before the prediction layer
    upsample: bool = True  # "2x": deconvolution with stride 2, outputs at stride 4
    deconv_channels: int = 112
    norm: bool = False  # batch norm after every head conv (not in the paper; for from-scratch)


@dataclass(frozen=True)
class NetworkConfig:
    name: str
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    # Input normalisation applied inside the network to RGB in 0..255 (ImageNet statistics).
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)

    @property
    def feature_stride(self) -> int:
        stride = 4  # conv1 (2) and maxpool (2)
        for i, dilated in enumerate(self.backbone.dilate[: len(self.backbone.layers)]):
            if i > 0 and not dilated:
                stride *= 2
        return stride

    @property
    def output_stride(self) -> int:
        return self.feature_stride // 2 if self.head.upsample else self.feature_stride


# Table III's "3-stage ResNet + 2x" (27.42M): ResNet50 up to layer3 with layer3 dilated
# (stride 8, 1024 channels), OpenPose-style stages (3x3 convs in stage 1, 7x7 in refinement
# stages), a 2x deconvolution in every branch. How the sizes were inferred is in
# docs/network.md.
PAPER = NetworkConfig(
    name="paper",
    backbone=BackboneConfig(
        block="bottleneck", layers=(3, 4, 6), widths=(64, 128, 256), dilate=(False, False, True)
    ),
)

PRESETS: dict[str, NetworkConfig] = {
    "paper": PAPER,
    "paper-6stage": replace(PAPER, name="paper-6stage", head=replace(PAPER.head, stages=6)),
    "paper-3stage-no-upsample": replace(
        PAPER, name="paper-3stage-no-upsample", head=replace(PAPER.head, upsample=False)
    ),
    # CPU default: ResNet18-style basic blocks at half width, three layers (the third dilated),
    # narrow 3x3 stages. Sized for <= 250 ms at 848x480 on 2 cores (bench/lite_forward.py).
    "lite": NetworkConfig(
        name="lite",
        backbone=BackboneConfig(
            block="basic", layers=(2, 2, 2), widths=(32, 64, 96), stem_width=32,
            dilate=(False, False, True),
        ),
        head=HeadConfig(
            stages=3, feature_channels=64, reduce_kernel=3, branch_channels=48, first_kernel=3,
            first_convs=2, refine_kernel=3, refine_convs=3, hidden_channels=48, upsample=True,
            deconv_channels=32, norm=True,
        ),
    ),
    # For tests only: a few thousand parameters, same structure.
    "tiny": NetworkConfig(
        name="tiny",
        backbone=BackboneConfig(
            block="basic", layers=(1, 1, 1), widths=(8, 8, 16), stem_width=8,
            dilate=(False, False, True),
        ),
        head=HeadConfig(
            stages=2, feature_channels=16, branch_channels=8, first_kernel=3, first_convs=1,
            refine_kernel=3, refine_convs=1, hidden_channels=8, upsample=True, deconv_channels=8,
        ),
    ),
}
