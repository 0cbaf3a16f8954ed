"""OpenPose's body network: RGB image -> per-stage heatmaps and part affinity fields (PAFs).

Written from its description (Cao et al., CVPR 2017, Fig. 3 and Sec. 2.1; the paper's Table III
baseline "6-stage VGG"): the first ten layers of VGG19 (conv1_1 .. conv4_2,
a 2 x 2 max-pool after blocks 1-3, so the features are at stride 8), two more 3 x 3 convolutions
(conv4_3_CPM: 256, conv4_4_CPM: 128) giving the features F. Stage 1, per branch: three 3 x 3
convolutions of 128, a 1 x 1 of 512, a 1 x 1 prediction. Stages 2..6, per branch, on (L1 and L2
of the previous stage, F) = 38 + 19 + 128 = 185 channels: five 7 x 7 convolutions of 128, a 1 x 1
of 128, a 1 x 1 prediction. Branch L1 predicts the 38 PAF channels, L2 the 19 heatmaps
(`openpose_layout`). A ReLU follows every convolution except the predictions. Presets:
`openpose-vgg19` (OpenPose's COCO outputs, 52.31M parameters) and `vgg-6stage` (the same network
predicting a skeleton's own maps and fields: 51.29M with AIC-14's, Table III's figure).

Parameter names are those of the model objects of the PyTorch ports of OpenPose whose weights are
distributed as `body_pose_model.pth` (`model0.conv1_1.weight`, `model1_1.conv5_1_CPM_L1.weight`,
`model2_2.Mconv7_stage2_L2.bias`), so their state dicts load with `strict=True`; the distributed
file itself names the layers without their block (`conv1_1.weight`): `block_of` gives it.

That network expects BGR images as x / 256 - 0.5 (grey 128 -> 0), padded right and down to a
multiple of 8 with grey. The modules here take RGB in 0..255, as every project pose model does,
and do that inside. Outputs stay at stride 8 (not upsampled); OpenPose's are reordered into a
project skeleton's channels (`openpose_layout.channel_layout`).

(No `from __future__ import annotations`: TorchScript must resolve the buffer annotations.)
"""

from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from service.network.openpose_layout import (
    NUM_HEATMAPS,
    NUM_PAFS,
    ChannelLayout,
    channel_layout,
    identity_layout,
)
from service.skeleton import COCO18, Skeleton


@dataclass(frozen=True)
class OpenPoseConfig:
    name: str = "openpose-vgg19"
    vgg_blocks: tuple[tuple[int, ...], ...] = ((64, 64), (128, 128), (256, 256, 256, 256),
                                               (512, 512))  # fmt: skip
    cpm: tuple[int, ...] = (256, 128)  # conv4_3_CPM, conv4_4_CPM: the features F
    stages: int = 6
    branch_width: int = 128
    stage1_convs: int = 3  # 3 x 3
    stage1_hidden: int = 512  # 1 x 1 before the prediction
    refine_convs: int = 5
    refine_kernel: int = 7
    refine_hidden: int = 128
    input_scale: float = 1.0 / 256.0  # BGR x * scale + shift
    input_shift: float = -0.5
    # "openpose": L1 / L2 predict OpenPose's 38 PAFs / 19 heatmaps (its COCO body model),
    # reordered into the skeleton's channels; "skeleton": they predict the skeleton's own
    # fields and maps (Table III trains this network so on AI Challenger's 14 joints).
    outputs: str = "openpose"

    def __post_init__(self) -> None:
        if self.outputs not in ("openpose", "skeleton"):
            raise ValueError(f"outputs {self.outputs!r}: 'openpose' or 'skeleton'")

    @property
    def stride(self) -> int:
        return 2 ** (len(self.vgg_blocks) - 1)


OPENPOSE_VGG19 = OpenPoseConfig()  # the layout of `body_pose_model.pth`
# The manifest's description of what the modules do to their RGB 0..255 input.
NORMALISATION = {"inside": True, "order": "BGR (flipped inside)", "formula": "x / 256 - 0.5",
                 "padding": "0 (grey 128)"}
OPENPOSE_PRESETS: dict[str, OpenPoseConfig] = {
    OPENPOSE_VGG19.name: OPENPOSE_VGG19,
    # Table III's "6-stage VGG" row: with AIC-14's 15 maps and 26 field channels, 51.29M.
    "vgg-6stage": OpenPoseConfig(name="vgg-6stage", outputs="skeleton"),
}


def output_channels(cfg: OpenPoseConfig, skeleton: Skeleton) -> tuple[int, int]:
    """(L1 channels, L2 channels): OpenPose's (38, 19), or the skeleton's (2C, J+1)."""
    if cfg.outputs == "openpose":
        return NUM_PAFS, NUM_HEATMAPS
    return skeleton.num_field_channels, skeleton.num_maps


def layout_for(cfg: OpenPoseConfig, skeleton: Skeleton) -> ChannelLayout:
    """Which L1 / L2 channel each of the skeleton's field / map channels is."""
    return channel_layout(skeleton) if cfg.outputs == "openpose" else identity_layout(skeleton)


@dataclass(frozen=True)
class ConvSpec:
    """One convolution: its block (`model0`, `model3_1`, ...), name, sizes, what follows it."""

    block: str
    name: str
    cin: int
    cout: int
    kernel: int
    relu: bool = True
    pool_after: bool = False

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {f"{self.name}.weight": (self.cout, self.cin, self.kernel, self.kernel),
                f"{self.name}.bias": (self.cout,)}  # fmt: skip


def _front(cfg: OpenPoseConfig) -> list[ConvSpec]:
    specs, cin = [], 3
    for b, widths in enumerate(cfg.vgg_blocks, start=1):
        for i, cout in enumerate(widths, start=1):
            last_of_pooled = i == len(widths) and b < len(cfg.vgg_blocks)
            specs.append(ConvSpec("model0", f"conv{b}_{i}", cin, cout, 3,
                                  pool_after=last_of_pooled))  # fmt: skip
            cin = cout
    b, first = len(cfg.vgg_blocks), len(cfg.vgg_blocks[-1]) + 1
    for i, cout in enumerate(cfg.cpm):
        specs.append(ConvSpec("model0", f"conv{b}_{first + i}_CPM", cin, cout, 3))
        cin = cout
    return specs


def _branch(cfg: OpenPoseConfig, stage: int, branch: int, pafs: int, heatmaps: int
            ) -> list[ConvSpec]:  # fmt: skip
    """Branch 1 (L1, PAFs) or 2 (L2, heatmaps) of `stage` (1-based)."""
    block, out = f"model{stage}_{branch}", pafs if branch == 1 else heatmaps
    width, features = cfg.branch_width, cfg.cpm[-1]
    if stage == 1:
        name = lambda i: f"conv5_{i}_CPM_L{branch}"  # noqa: E731
        convs, kernel, hidden, cin = cfg.stage1_convs, 3, cfg.stage1_hidden, features
    else:
        name = lambda i: f"Mconv{i}_stage{stage}_L{branch}"  # noqa: E731
        convs, kernel, hidden = cfg.refine_convs, cfg.refine_kernel, cfg.refine_hidden
        cin = pafs + heatmaps + features
    specs = [ConvSpec(block, name(i + 1), cin if i == 0 else width, width, kernel)
             for i in range(convs)]  # fmt: skip
    specs.append(ConvSpec(block, name(convs + 1), width, hidden, 1))
    specs.append(ConvSpec(block, name(convs + 2), hidden, out, 1, relu=False))
    return specs


def conv_specs(cfg: OpenPoseConfig, skeleton: Skeleton = COCO18) -> list[ConvSpec]:
    """Every convolution in state-dict order: model0, then model{t}_1, model{t}_2 per stage."""
    pafs, heatmaps = output_channels(cfg, skeleton)
    specs = _front(cfg)
    for t in range(1, cfg.stages + 1):
        specs += _branch(cfg, t, 1, pafs, heatmaps) + _branch(cfg, t, 2, pafs, heatmaps)
    return specs


def expected_shapes(cfg: OpenPoseConfig, skeleton: Skeleton = COCO18
                    ) -> dict[str, tuple[int, ...]]:  # fmt: skip
    """State-dict key (`model1_1.conv5_1_CPM_L1.weight`) -> shape, without building the net."""
    specs = conv_specs(cfg, skeleton)
    return {f"{s.block}.{key}": shape for s in specs for key, shape in s.shapes.items()}


def block_of(cfg: OpenPoseConfig) -> dict[str, str]:
    """Layer name (`Mconv3_stage4_L2`) -> its block (`model4_2`): the file's names -> ours."""
    return {s.name: s.block for s in conv_specs(cfg)}


def _sequential(specs: list[ConvSpec]) -> nn.Sequential:
    layers: list[tuple[str, nn.Module]] = []
    for s in specs:
        layers.append((s.name, nn.Conv2d(s.cin, s.cout, s.kernel, padding=s.kernel // 2)))
        if s.relu:
            layers.append((f"{s.name}_relu", nn.ReLU(inplace=True)))
        if s.pool_after:
            layers.append((f"{s.name}_pool", nn.MaxPool2d(2, 2)))
    return nn.Sequential(OrderedDict(layers))


def openpose_input(image: torch.Tensor, stride: int, scale: float, shift: float) -> torch.Tensor:
    """(B, 3, H, W) RGB 0..255 -> BGR * scale + shift, padded right and down with 0 (grey) to
    multiples of `stride`."""
    height, width = image.shape[-2], image.shape[-1]
    x = image.flip(1) * scale + shift
    return F.pad(x, [0, (stride - width % stride) % stride, 0, (stride - height % stride) % stride])


def project_outputs(
    pafs: torch.Tensor, heatmaps: torch.Tensor, map_index: torch.Tensor,
    field_index: torch.Tensor, field_sign: torch.Tensor, h: int, w: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """OpenPose's (B, 38, h', w') PAFs and (B, 19, h', w') heatmaps -> the skeleton's maps
    (B, J+1, h, w) and fields (B, 2C, h, w), cropped to (h, w)."""
    maps = heatmaps.index_select(1, map_index)[:, :, :h, :w]
    fields = pafs.index_select(1, field_index) * field_sign.view(1, -1, 1, 1)
    return maps, fields[:, :, :h, :w]


class OpenPoseNet(nn.Module):
    """(B, 3, H, W) RGB 0..255 -> T x (maps (B, J+1, h, w), fields (B, 2C, h, w)) in the
    skeleton's channels, h = ceil(H / 8), w = ceil(W / 8). Trainable; `native` gives
    OpenPose's own per-stage (PAFs (B, 38, .), heatmaps (B, 19, .))."""

    map_index: torch.Tensor
    field_index: torch.Tensor
    field_sign: torch.Tensor

    def __init__(self, cfg: OpenPoseConfig = OPENPOSE_VGG19, skeleton: Skeleton = COCO18) -> None:
        super().__init__()
        self.config, self.output_stride = cfg, cfg.stride
        specs = conv_specs(cfg, skeleton)
        for block in dict.fromkeys(s.block for s in specs):
            self.add_module(block, _sequential([s for s in specs if s.block == block]))
        layout = layout_for(cfg, skeleton)
        # Not in the state dict: it loads with strict=True.
        self.register_buffer("map_index", torch.tensor(layout.map_index), persistent=False)
        self.register_buffer("field_index", torch.tensor(layout.field_index), persistent=False)
        self.register_buffer("field_sign", torch.tensor(layout.field_sign), persistent=False)

    def front(self) -> nn.Module:
        """VGG19 to conv4_2, then the CPM convolutions: (B, 3, H, W) -> F (B, 128, H/8, W/8)."""
        module: nn.Module = self.get_submodule("model0")
        return module

    def branches(self) -> list[tuple[nn.Module, nn.Module]]:
        """(L1, L2) of each stage."""
        return [(self.get_submodule(f"model{t}_1"), self.get_submodule(f"model{t}_2"))
                for t in range(1, self.config.stages + 1)]  # fmt: skip

    def native(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(B, 3, H, W) normalised BGR, H and W multiples of 8 -> per stage (PAFs, heatmaps)."""
        features = self.front()(x)  # F: (B, 128, H/8, W/8)
        stage_input, outputs = features, []
        for l1, l2 in self.branches():
            pafs, heatmaps = l1(stage_input), l2(stage_input)
            outputs.append((pafs, heatmaps))
            stage_input = torch.cat([pafs, heatmaps, features], 1)
        return outputs

    def forward(self, image: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        cfg, s = self.config, self.output_stride
        x = openpose_input(image, s, cfg.input_scale, cfg.input_shift)
        h, w = (image.shape[-2] + s - 1) // s, (image.shape[-1] + s - 1) // s
        return [project_outputs(p, m, self.map_index, self.field_index, self.field_sign, h, w)
                for p, m in self.native(x)]  # fmt: skip


class _Stage(nn.Module):
    def __init__(self, pafs: nn.Module, heatmaps: nn.Module) -> None:
        super().__init__()
        self.pafs, self.heatmaps = pafs, heatmaps

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.pafs(x), self.heatmaps(x)


class OpenPoseInference(nn.Module):
    """The exported module (TorchScript): (B, 3, H, W) RGB 0..255 -> the last stage's (maps
    (B, J+1, h, w), fields (B, 2C, h, w)) at stride 8. Shares the net's layers."""

    map_index: torch.Tensor
    field_index: torch.Tensor
    field_sign: torch.Tensor

    def __init__(self, net: OpenPoseNet) -> None:
        super().__init__()
        cfg = net.config
        self.stride, self.scale, self.shift = cfg.stride, cfg.input_scale, cfg.input_shift
        self.front = net.front()
        self.stages = nn.ModuleList([_Stage(l1, l2) for l1, l2 in net.branches()])
        for name in ("map_index", "field_index", "field_sign"):
            self.register_buffer(name, getattr(net, name).clone())

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.stride
        h, w = (image.shape[-2] + s - 1) // s, (image.shape[-1] + s - 1) // s
        features = self.front(openpose_input(image, s, self.scale, self.shift))
        stage_input, pafs, heatmaps = features, features, features
        for stage in self.stages:
            pafs, heatmaps = stage(stage_input)
            stage_input = torch.cat([pafs, heatmaps, features], 1)
        return project_outputs(pafs, heatmaps, self.map_index, self.field_index,
                               self.field_sign, h, w)  # fmt: skip
