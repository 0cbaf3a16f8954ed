"""BlazePose detector outputs -> person boxes: letterbox, SSD anchors, weighted NMS, body region.

What MediaPipe's pose_detection graph does around the network (mediapipe 0.10.14:
pose_detection_cpu.pbtxt), as one scriptable module with this project's detector contract
((B, 3, H, W) RGB 0..255 -> (B, K, 5) [x1, y1, x2, y2, score] in input pixels):
- the image is letterboxed into 224 x 224 (centred, black borders, sampled as
  MediaPipe's OpenCV converter does), values to [-1, 1];
- 2254 SSD anchors (strides 8, 16, 32, 32, 32; fixed size 1; offsets 0.5) decode the
  regressors as (cx, cy, w, h, 4 x (x, y)) / 224 relative to the anchor centre;
- scores are sigmoid(clip(logit, +-100)); detections under 0.5 are dropped;
- weighted non-maximum suppression (IoU of the face boxes over 0.3): each cluster's box and
  keypoints are the score-weighted mean, its score the best one's;
- the body region is the square centred on keypoint 0 (hip centre) whose half side is the
  distance to keypoint 1 (on the circle around the full body). That square is the box returned;
  the top-down model grows it by 25% as MediaPipe does, and rotates its crop by keypoints
  0 -> 1 when it reads them from `detect`.
(No `from __future__ import annotations` here: TorchScript must resolve the buffer annotation.)
"""

import torch
import torch.nn.functional as F
from torch import nn

from service.network.blazepose_detector import ANCHORS_PER_CELL, INPUT_SIZE, BlazePoseDetectorNet

LEVEL_STRIDES = (8, 16, 32)
# detect() rows: x1, y1, x2, y2, score, then 4 keypoints (x, y), all in input pixels


def anchor_centres() -> torch.Tensor:
    """(2254, 2) anchor centres (x, y) in [0, 1], in the network's (level, y, x, anchor) order."""
    parts = []
    for stride, per_cell in zip(LEVEL_STRIDES, ANCHORS_PER_CELL, strict=True):
        n = -(-INPUT_SIZE // stride)
        grid = (torch.arange(n, dtype=torch.float32) + 0.5) / n
        yy, xx = torch.meshgrid(grid, grid, indexing="ij")
        cells = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)  # (n*n, 2)
        parts.append(cells.repeat_interleave(per_cell, dim=0))
    return torch.cat(parts, dim=0)


def _iou(box: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """(4,) and (N, 4) [x1, y1, x2, y2] -> (N,) intersection over union."""
    lt = torch.maximum(box[:2], boxes[:, :2])
    rb = torch.minimum(box[2:], boxes[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(dim=1)
    area = (box[2:] - box[:2]).prod()
    areas = (boxes[:, 2:] - boxes[:, :2]).prod(dim=1)
    return inter / (area + areas - inter).clamp(min=1e-9)


def weighted_nms(faces: torch.Tensor, values: torch.Tensor, scores: torch.Tensor,
                 iou_threshold: float, max_out: int) -> tuple[torch.Tensor, torch.Tensor]:
    """MediaPipe's WEIGHTED suppression. faces (N, 4), values (N, V) averaged per cluster,
    scores (N,) -> (M, V) weighted means and (M,) best scores, best first, M <= max_out."""
    order = torch.argsort(scores, descending=True)
    faces, values, scores = faces[order], values[order], scores[order]
    out_values: list[torch.Tensor] = []
    out_scores: list[torch.Tensor] = []
    while faces.shape[0] > 0 and len(out_values) < max_out:
        cluster = _iou(faces[0], faces) > iou_threshold
        cluster[0] = True
        w = scores[cluster]
        out_values.append((values[cluster] * w[:, None]).sum(dim=0) / w.sum())
        out_scores.append(scores[0])
        keep = ~cluster
        faces, values, scores = faces[keep], values[keep], scores[keep]
    if len(out_values) == 0:
        return values.new_zeros((0, values.shape[1])), scores.new_zeros((0,))
    return torch.stack(out_values), torch.stack(out_scores)


class InferenceBlazeDetector(nn.Module):
    """(B, 3, H, W) RGB 0..255 -> (B, K, 5) body-region boxes [x1, y1, x2, y2, score]."""

    anchors: torch.Tensor  # (2254, 2) buffer

    def __init__(self, net: BlazePoseDetectorNet, score_threshold: float = 0.5,
                 iou_threshold: float = 0.3, max_detections: int = 20) -> None:
        super().__init__()
        self.net: BlazePoseDetectorNet = net
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold
        self.max_detections = max_detections
        self.size = INPUT_SIZE
        self.register_buffer("anchors", anchor_centres())

    def letterbox(self, images: torch.Tensor) -> tuple[torch.Tensor, float]:
        """(B, 3, H, W) 0..255 -> (B, 3, 224, 224) in [-1, 1]; and the square's side.

        As MediaPipe's ImageToTensor (OpenCV): the centred square of side max(H, W) is warped
        onto the 224 grid corner to corner (output pixel j samples input pixel
        (W - side) / 2 + j * side / 224), bilinear without antialiasing, black outside, and
        rounded to integers as its uint8 warp is (the detector is sensitive to that)."""
        h, w = images.shape[-2], images.shape[-1]
        side = float(max(h, w))
        steps = torch.arange(self.size, dtype=torch.float32, device=images.device)
        steps = steps * (side / self.size)
        gx = ((w - side) / 2 + steps) / max(w - 1, 1) * 2 - 1  # grid_sample's [-1, 1]
        gy = ((h - side) / 2 + steps) / max(h - 1, 1) * 2 - 1
        grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], dim=-1)  # (S, S, 2)
        grid = grid[None].expand(images.shape[0], -1, -1, -1)
        x = F.grid_sample(images.float(), grid, mode="bilinear", padding_mode="zeros",
                          align_corners=True)
        return x.round() / 127.5 - 1.0, side  # rounded: MediaPipe warps the uint8 image

    @torch.jit.export
    def detect(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) RGB 0..255 -> (B, K, 13) rows: body box (4), score, 4 keypoints (x, y),
        input pixels; rows after the detections are zeros."""
        h, w = images.shape[-2], images.shape[-1]
        x, side = self.letterbox(images)
        reg, logits = self.net(x)  # (B, 2254, 12), (B, 2254, 1)
        scores = torch.sigmoid(logits[..., 0].float().clamp(-100.0, 100.0))
        coords = reg.float() / self.size  # relative to the anchor, in units of the 224 input
        centres = self.anchors.repeat(1, 5)  # (2254, 10): box centre, then 4 keypoints
        pos = torch.cat([coords[..., :2], coords[..., 4:]], dim=-1) + centres  # (B, 2254, 10)
        half = coords[..., 2:4] / 2
        faces = torch.cat([pos[..., :2] - half, pos[..., :2] + half], dim=-1)  # (B, 2254, 4)
        # square letterbox coordinates in [0, 1] -> input pixels (the square is centred)
        offset = torch.tensor([(side - w) / 2, (side - h) / 2], device=images.device).repeat(4)
        out = images.new_zeros((images.shape[0], self.max_detections, 13), dtype=torch.float32)
        for b in range(images.shape[0]):
            keep = scores[b] >= self.score_threshold
            kps, best = weighted_nms(faces[b][keep], pos[b][keep, 2:], scores[b][keep],
                                     self.iou_threshold, self.max_detections)
            kps = kps * side - offset  # (M, 8) pixels
            radius = (kps[:, 2:4] - kps[:, 0:2]).norm(p=2, dim=1, keepdim=True)  # (M, 1)
            boxes = torch.cat([kps[:, 0:2] - radius, kps[:, 0:2] + radius], dim=1)
            m = kps.shape[0]
            out[b, :m] = torch.cat([boxes, best[:, None], kps], dim=1)
        return out

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.detect(images)[..., :5]
