"""MoveNet MultiPose's frozen FPN features -> COCO-18 direction fields and a neck map (the field
head trained here, issue 27), and the composed model: image -> (maps, fields, box rows).

MoveNet's six heads all read one stride-4 feature map (`FPN_NODE`, 24 channels after a ReLU).
`FieldHead` reads those features and MoveNet's 17 joint heatmaps and answers a neck map (MoveNet
has no neck; COCO-18's parser walks the limbs from it) and the 2 x 17 field channels of
COCO-18's limbs (`COCO18.limbs`, DFS order from the neck). Its outputs lie on the project's grid
(cell i is input pixel (i + 0.5) * 4 - 0.5, `targets.encode.grid_to_image`). MoveNet's heatmap
cells are the same cells (`MoveNetFields` says why), so its heatmaps are served as they are; the
head reads its inputs resampled 3/8 of a cell on (`GRID_SHIFT`), as it was trained.

(No `from __future__ import annotations`: TorchScript resolves the annotations.)
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from service.network.movenet import HEAD_NODES, PAD_MULTIPLE, STRIDE
from service.skeleton import COCO18

FPN_NODE = ("StatefulPartitionedCall/center_net_mobile_net_v2fpn_feature_extractor/model_1/"
            "re_lu_2/Relu")
FPN_CHANNELS = 24
MOVENET_JOINTS = 17  # COCO-17, the first 17 joints of COCO-18
FIELD_CHANNELS = 2 * len(COCO18.limbs)  # (x, y) per limb
NECK = COCO18.joints.index("neck")  # the last: MoveNet's 17, then the neck
# The field head's inputs are resampled 3/8 of a cell on (taking MoveNet's cell i for input
# pixel 4 i, where the project's is 4 i + 1.5); it was trained so and keeps it. The served joint
# maps are not moved: see `MoveNetFields`.
GRID_SHIFT = (STRIDE / 2 - 0.5) / STRIDE


@dataclass(frozen=True)
class FieldHeadConfig:
    hidden: int = 64
    stem_kernel: int = 1  # 1 x 1: the blocks' dilated depthwise convolutions see around
    dilations: tuple[int, ...] = (1, 2, 4, 8)  # one separable residual block each
    band_sigma: float = 1.0  # cells: the regression fields' band, exp(-d^2 / (2 sigma^2))
    correction: bool = True  # False: fields = regression fields x gate, MoveNet's geometry kept


# the head's inputs: FPN features, MoveNet's heatmaps, the regression fields, their bands and
# the regressed neck's closeness
IN_CHANNELS = FPN_CHANNELS + MOVENET_JOINTS + FIELD_CHANNELS + len(COCO18.limbs) + 1


class RegressionFields(nn.Module):
    """MoveNet's dense centre-to-joint regression (B, 34, h, w), (dy, dx) per COCO-17 joint in
    cells -> fields a cell's own regression implies: each limb's unit vector joint a -> joint b,
    weighted by how near the cell lies to that segment (B, 34, h, w), those weights (B, 17, h,
    w) and the regressed neck's closeness (B, 1, h, w). The neck is the shoulders' midpoint.
    On a limb's pixels the regression's direction agrees with the truth's (mean cosine 0.78 on
    LSPet training photos): the head learns where to trust it."""

    sigma: float
    start: torch.Tensor  # (C,) each limb's first joint (a buffer)
    end: torch.Tensor

    def __init__(self, sigma: float = 1.0) -> None:
        super().__init__()
        self.sigma = sigma
        self.register_buffer("start", torch.tensor([a for a, _ in COCO18.limbs]))
        self.register_buffer("end", torch.tensor([b for _, b in COCO18.limbs]))

    def forward(self, regress: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        ry, rx = regress[:, 0::2], regress[:, 1::2]  # (B, 17, h, w) each
        ry = torch.cat([ry, ry[:, 5:7].mean(1, keepdim=True)], 1)  # (B, 18, h, w), neck last
        rx = torch.cat([rx, rx[:, 5:7].mean(1, keepdim=True)], 1)
        # index_select, not rx[:, self.start]: torch.onnx types the scripted gather only so
        ax, ay = rx.index_select(1, self.start), ry.index_select(1, self.start)  # (B, C, h, w)
        vx, vy = rx.index_select(1, self.end) - ax, ry.index_select(1, self.end) - ay
        length2 = (vx * vx + vy * vy).clamp(min=1e-6)
        t = (-(ax * vx + ay * vy) / length2).clamp(0.0, 1.0)  # the cell's nearest point
        d2 = (ax + t * vx) ** 2 + (ay + t * vy) ** 2
        band = torch.exp(-d2 / (2 * self.sigma**2))  # (B, C, h, w)
        length = length2.sqrt()
        fields = torch.stack([vx / length * band, vy / length * band], 2).flatten(1, 2)
        neck = torch.exp(-(rx[:, -1:] ** 2 + ry[:, -1:] ** 2) / (2 * self.sigma**2))
        return fields, band, neck


class _Block(nn.Module):
    """Depthwise 3 x 3 (dilated) + pointwise + ReLU, residual: context along the limbs."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation,
                                   groups=channels)  # fmt: skip
        self.pointwise = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.relu(self.pointwise(self.depthwise(x)))


class FieldHead(nn.Module):
    """(B, 24, h, w) FPN features, (B, 17, h, w) MoveNet heatmaps, (B, 34, h, w) MoveNet's
    regression (all on MoveNet's grid) -> (B, 1 + 34, h, w) on the project's grid: the neck map
    (unbounded; clamp to [0, 1] to serve), then COCO-18's fields = the regression fields x a
    learnt gate per limb (sigmoid) + a learnt correction."""

    grid_shift: float
    correction: bool

    def __init__(self, config: FieldHeadConfig = FieldHeadConfig()) -> None:
        super().__init__()
        self.grid_shift, self.correction = GRID_SHIFT, config.correction
        self.regression = RegressionFields(config.band_sigma)
        self.stem = nn.Conv2d(IN_CHANNELS, config.hidden, config.stem_kernel,
                              padding=config.stem_kernel // 2)  # fmt: skip
        self.blocks = nn.Sequential(*[_Block(config.hidden, d) for d in config.dilations])
        limbs = len(COCO18.limbs)
        self.out = nn.Conv2d(config.hidden, 1 + limbs + FIELD_CHANNELS, 1)  # neck, gates, fix
        with torch.no_grad():
            self.out.weight.mul_(0.1)
            nn.init.zeros_(self.out.bias)  # type: ignore[arg-type]

    def forward(self, features: torch.Tensor, heatmaps: torch.Tensor,
                regress: torch.Tensor) -> torch.Tensor:  # fmt: skip
        neck, gate_logit, correction, fields = self.parts(features, heatmaps, regress)
        gate = torch.sigmoid(gate_logit).repeat_interleave(2, 1)  # (B, 34, h, w)
        return torch.cat([neck, fields * gate + correction], 1)  # (B, 35, h, w)

    def parts(self, features: torch.Tensor, heatmaps: torch.Tensor, regress: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
        """The forward's terms, for losses on each: the neck (B, 1, h, w), the gates' logits
        (B, 17, h, w), the correction (B, 34, h, w; zeros without one) and the regression
        fields (B, 34, h, w)."""
        # offsets from the project's cell: sampled 3/8 cell on, and 3/8 cell shorter
        fields, band, neck = self.regression(
            shift_to_project_grid(regress, self.grid_shift) - self.grid_shift)
        inputs = [shift_to_project_grid(features, self.grid_shift),
                  shift_to_project_grid(heatmaps, self.grid_shift), fields,
                  band, neck]  # fmt: skip
        x = torch.relu(self.stem(torch.cat(inputs, 1)))  # (B, hidden, h, w)
        out = self.out(self.blocks(x))  # (B, 1 + 17 + 34, h, w)
        limbs = band.shape[1]
        correction = out[:, 1 + limbs:]
        if not self.correction:
            correction = torch.zeros_like(correction)
        return out[:, :1], out[:, 1:1 + limbs], correction, fields


def shift_to_project_grid(x: torch.Tensor, shift: float = GRID_SHIFT) -> torch.Tensor:
    """(B, C, h, w) on MoveNet's grid -> the same sampled at cell + `shift` in y and x (bilinear;
    the last row and column repeat): values on the project's grid."""
    x = (1.0 - shift) * x + shift * torch.cat([x[:, :, 1:], x[:, :, -1:]], 2)
    return (1.0 - shift) * x + shift * torch.cat([x[:, :, :, 1:], x[:, :, :, -1:]], 3)


def centre_boxes(centre: torch.Tensor, box_scale: torch.Tensor, box_offset: torch.Tensor,
                 size: tuple[int, int], max_boxes: int, window: int = 5,
                 stride: float = 4.0, regress: torch.Tensor | None = None
                 ) -> torch.Tensor:  # fmt: skip
    """MoveNet's centre (B, 1, h, w) and box heads (B, 2, h, w) -> (B, K, 5) rows x1, y1, x2,
    y2, score in input pixels, clipped to `size` (H, W); K = max_boxes, strongest first; cells
    that are no 5 x 5 local maximum score 0 (as parsing.centres.centre_peaks). Given MoveNet's
    centre-to-joint regression `regress` (B, 34, h, w), (dy, dx) in cells per COCO-17 joint,
    each row goes on with the joints its centre cell regresses, COCO-18 (the neck at the
    shoulders' midpoint), x and y in input pixels: (B, K, 5 + 36)."""
    b, _, h, w = centre.shape
    pooled = F.max_pool2d(centre, window, 1, window // 2)
    peaks = torch.where(centre >= pooled, centre, torch.zeros_like(centre)).reshape(b, -1)
    k = min(max_boxes, h * w)
    scores, index = peaks.topk(k, dim=1)  # (B, K)
    rows = torch.div(index, w, rounding_mode="floor").float()
    cols = (index % w).float()
    scale = box_scale.clamp(min=0.0).reshape(b, 2, -1)
    offset = box_offset.reshape(b, 2, -1)
    bh, bw = scale[:, 0].gather(1, index), scale[:, 1].gather(1, index)
    cy = rows + offset[:, 0].gather(1, index)
    cx = cols + offset[:, 1].gather(1, index)
    x1 = ((cx - bw / 2) * stride).clamp(0.0, float(size[1]))
    x2 = ((cx + bw / 2) * stride).clamp(0.0, float(size[1]))
    y1 = ((cy - bh / 2) * stride).clamp(0.0, float(size[0]))
    y2 = ((cy + bh / 2) * stride).clamp(0.0, float(size[0]))
    rows5 = torch.stack([x1, y1, x2, y2, scores], -1)  # (B, K, 5)
    if regress is None:
        return rows5
    n = regress.shape[1] // 2  # 17
    left_shoulder, right_shoulder = 5, 6  # COCO's (checked against COCO18 below the function)
    reg = regress.reshape(b, n, 2, h * w)
    at = index[:, None, :].expand(b, n, k)  # (B, 17, K)
    jy = (rows[:, None, :] + reg[:, :, 0].gather(2, at)) * stride  # (B, 17, K)
    jx = (cols[:, None, :] + reg[:, :, 1].gather(2, at)) * stride
    joints = torch.stack([jx, jy], -1).permute(0, 2, 1, 3)  # (B, K, 17, 2)
    neck = (joints[:, :, left_shoulder] + joints[:, :, right_shoulder])[:, :, None] * 0.5
    joints = torch.cat([joints, neck], 2).reshape(b, k, 2 * (n + 1))
    return torch.cat([rows5, joints], -1)  # (B, K, 5 + 36)


assert (COCO18.joints.index("left_shoulder"), COCO18.joints.index("right_shoulder"), NECK) == (
    5, 6, MOVENET_JOINTS)  # centre_boxes' joint order: MoveNet's 17, then the neck


class MoveNetFields(nn.Module):
    """(B, 3, H, W) RGB 0..255 -> maps (B, 19, h, w): MoveNet's 17 heatmaps, the learnt neck,
    background = 1 - max; fields (B, 34, h, w) from the field head; box rows (B, K, 5) from
    MoveNet's centre and box heads. h, w = ceil(H / 32) * 8, ceil(W / 32) * 8 (the padded image;
    the pipeline crops). `trunk` answers MoveNet's six heads (HEAD_NODES' order) then the FPN.

    The heatmaps are served on the grid they come on: MoveNet puts a joint whose heatmap peaks
    at cell i at 4 (i + offset) in TF's continuous frame (pixel edges at integers), its offsets
    averaging half a cell at peaks (0.52 in x and y, 888 peaks over 0.3 on coco-mini-train's
    photos), so at index pixel 4 i + 2 - 0.5 = 4 i + 1.5: the project's cell i. (Moved 3/8 of a
    cell on, as the head's inputs are, every joint landed 2 px up and left of MoveNet's own
    placement: 2.5 px left and 3.2 px up against the dev split's truth in photo pixels.)"""

    max_boxes: int
    pad_multiple: int

    def __init__(self, trunk: nn.Module, head: FieldHead, max_boxes: int = 32) -> None:
        super().__init__()
        self.trunk, self.head = trunk, head
        self.max_boxes, self.pad_multiple = max_boxes, PAD_MULTIPLE

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        height, width = image.shape[-2], image.shape[-1]
        pad_h = (self.pad_multiple - height % self.pad_multiple) % self.pad_multiple
        pad_w = (self.pad_multiple - width % self.pad_multiple) % self.pad_multiple
        if pad_h or pad_w:
            image = F.pad(image, [0, pad_w, 0, pad_h], value=0.0)  # black, right and down
        outs: list[torch.Tensor] = list(self.trunk(image))
        centre, heatmaps, box_scale, box_offset = outs[0], outs[1], outs[4], outs[5]
        out = self.head(outs[6], heatmaps, outs[2])  # (B, 35, h, w), project grid
        joints = torch.cat([heatmaps, out[:, :1].clamp(0.0, 1.0)], 1)  # as they are: below
        background = 1.0 - joints.max(1, keepdim=True)[0]
        boxes = centre_boxes(centre, box_scale, box_offset, (height, width), self.max_boxes,
                             regress=outs[2])  # fmt: skip
        return torch.cat([joints, background], 1), out[:, 1:], boxes


def trunk_outputs() -> list[str]:
    """The graph nodes the composed module's trunk answers, in its order."""
    return [*HEAD_NODES.values(), FPN_NODE]
