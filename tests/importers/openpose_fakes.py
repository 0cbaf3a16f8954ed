"""A fabricated `body_pose_model.pth` and an independent forward pass over it, for the tests.

The layout is written here from OpenPose's published network (Cao et al. 2017; its Caffe
prototxt `pose_deploy_linevec.prototxt`), not read from the project's module: the first ten VGG19
layers plus conv4_3_CPM / conv4_4_CPM, stage 1 (conv5_1..5_5_CPM_L1/L2), stages 2-6
(Mconv1..7_stageT_L1/L2), the flat names of the distributed file. The output layout is OpenPose's
published one (limbSeq and mapIdx as in its COCO body parser, 1-based joint numbers).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from service.skeleton import COCO18

# (name, in, out, kernel), in forward order; "pool" after conv1_2, conv2_2, conv3_4.
FRONT = [
    ("conv1_1", 3, 64, 3), ("conv1_2", 64, 64, 3), ("conv2_1", 64, 128, 3),
    ("conv2_2", 128, 128, 3), ("conv3_1", 128, 256, 3), ("conv3_2", 256, 256, 3),
    ("conv3_3", 256, 256, 3), ("conv3_4", 256, 256, 3), ("conv4_1", 256, 512, 3),
    ("conv4_2", 512, 512, 3), ("conv4_3_CPM", 512, 256, 3), ("conv4_4_CPM", 256, 128, 3),
]  # fmt: skip
POOLED = {"conv1_2", "conv2_2", "conv3_4"}
OUT = {1: 38, 2: 19}  # L1: PAFs, L2: heatmaps


def branch(stage: int, b: int) -> list[tuple[str, int, int, int]]:
    if stage == 1:
        return [(f"conv5_1_CPM_L{b}", 128, 128, 3), (f"conv5_2_CPM_L{b}", 128, 128, 3),
                (f"conv5_3_CPM_L{b}", 128, 128, 3), (f"conv5_4_CPM_L{b}", 128, 512, 1),
                (f"conv5_5_CPM_L{b}", 512, OUT[b], 1)]  # fmt: skip
    convs = [(f"Mconv{i}_stage{stage}_L{b}", 185 if i == 1 else 128, 128, 7) for i in range(1, 6)]
    return convs + [(f"Mconv6_stage{stage}_L{b}", 128, 128, 1),
                    (f"Mconv7_stage{stage}_L{b}", 128, OUT[b], 1)]  # fmt: skip


def layers() -> list[tuple[str, int, int, int]]:
    out = list(FRONT)
    for stage in range(1, 7):
        out += branch(stage, 1) + branch(stage, 2)
    return out


def file_shapes() -> dict[str, tuple[int, ...]]:
    """The distributed file's keys and shapes (flat names)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for name, cin, cout, k in layers():
        shapes[f"{name}.weight"] = (cout, cin, k, k)
        shapes[f"{name}.bias"] = (cout,)
    return shapes


def fabricated_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights of exactly the file's keys and shapes (He-scaled: activations stay O(1))."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in file_shapes().items():
        if key.endswith(".weight"):
            fan_in = shape[1] * shape[2] * shape[3]
            state[key] = torch.randn(shape, generator=g) * (2.0 / fan_in) ** 0.5
        else:
            state[key] = torch.randn(shape, generator=g) * 0.01
    return state


def cheap_state(shapes: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """Zero tensors of the given shapes sharing one element of storage (tiny when saved)."""
    return {k: torch.zeros(1).expand(*s) for k, s in shapes.items()}


def save(state: dict[str, torch.Tensor], path: Path) -> Path:
    torch.save(state, path)
    return path


# OpenPose's published COCO layout: joint names by its 1-based numbers, limb pairs, PAF channels
# (its map indices; minus 19 heatmaps = PAF channel).
OP_JOINTS = ["nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
             "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip",
             "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear"]
LIMB_SEQ = [[2, 3], [2, 6], [3, 4], [4, 5], [6, 7], [7, 8], [2, 9], [9, 10], [10, 11], [2, 12],
            [12, 13], [13, 14], [2, 1], [1, 15], [15, 17], [1, 16], [16, 18], [3, 17], [6, 18]]
MAP_IDX = [[31, 32], [39, 40], [33, 34], [35, 36], [41, 42], [43, 44], [19, 20], [21, 22],
           [23, 24], [25, 26], [27, 28], [29, 30], [47, 48], [49, 50], [53, 54], [51, 52],
           [55, 56], [37, 38], [45, 46]]  # fmt: skip


def to_coco18(pafs: torch.Tensor, heat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """OpenPose's (B, 38, h, w) PAFs, (B, 19, h, w) heatmaps -> COCO18 maps and fields, by
    joint names (COCO-18 limbs run the way OpenPose's do)."""
    maps = torch.stack([heat[:, OP_JOINTS.index(n)] for n in COCO18.joints] + [heat[:, 18]], 1)
    fields = []
    for a, b in COCO18.limbs:
        pair = [OP_JOINTS.index(COCO18.joints[a]) + 1, OP_JOINTS.index(COCO18.joints[b]) + 1]
        x, y = MAP_IDX[LIMB_SEQ.index(pair)]
        fields += [pafs[:, x - 19], pafs[:, y - 19]]
    return maps, torch.stack(fields, 1)


def functional_forward(
    state: dict[str, torch.Tensor], rgb: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """OpenPose on (B, 3, H, W) RGB 0..255 with torch.nn.functional only -> COCO18 maps
    (B, 19, ceil(H/8), ceil(W/8)) and fields (B, 34, ...)."""
    h, w = rgb.shape[2], rgb.shape[3]
    x = rgb[:, [2, 1, 0]] / 256.0 - 0.5  # BGR
    x = F.pad(x, [0, -w % 8, 0, -h % 8], value=0.0)  # grey 128 -> 0

    def conv(t: torch.Tensor, spec: tuple[str, int, int, int], relu: bool) -> torch.Tensor:
        name, _, _, k = spec
        out = F.conv2d(t, state[f"{name}.weight"], state[f"{name}.bias"], padding=k // 2)
        return F.relu(out) if relu else out

    for spec in FRONT:
        x = conv(x, spec, True)
        if spec[0] in POOLED:
            x = F.max_pool2d(x, 2, 2)
    features, stage_input = x, x
    for stage in range(1, 7):
        outs = []
        for b in (1, 2):
            t = stage_input
            specs = branch(stage, b)
            for i, spec in enumerate(specs):
                t = conv(t, spec, i < len(specs) - 1)
            outs.append(t)
        pafs, heat = outs
        stage_input = torch.cat([pafs, heat, features], 1)
    maps, fields = to_coco18(pafs, heat)
    gh, gw = -(-h // 8), -(-w // 8)
    return maps[:, :, :gh, :gw], fields[:, :, :gh, :gw]
