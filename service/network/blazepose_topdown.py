"""Person crops -> BlazePose landmarks refined by their heatmaps: the served top-down module.

`TopdownLandmarks` wraps `BlazePoseLandmarkNet` for serving: 256 x 256 RGB crops in 0..255 in,
(N, 39, 5) landmarks [x, y (crop pixels, continuous: the crop spans [0, 256)), z, visibility,
presence (probabilities)] and (N,) pose flags out. The segmentation decoder is not run.

Refinement is MediaPipe's RefineLandmarksFromHeatmapCalculator (kernel 7, min confidence 0.5):
for each landmark, the 7 x 7 heatmap cells around the cell it falls in (clipped at the border),
sigmoid, and if the largest is >= 0.5 the landmark moves to the confidence-weighted mean of the
cells' indices divided by the map size (MediaPipe takes cell index, not cell centre: kept as is,
so that our output equals theirs).
"""

from __future__ import annotations

import torch
from torch import nn

from service.network.blazepose import INPUT_SIZE, BlazePoseLandmarkNet


def refine_from_heatmaps(landmarks: torch.Tensor, heatmaps: torch.Tensor, input_size: int,
                         kernel: int = 7, min_confidence: float = 0.5) -> torch.Tensor:
    """landmarks (N, J, >=2) in input pixels, heatmaps (N, J, h, w) logits -> (N, J, 2) x, y."""
    n, j, h, w = heatmaps.shape
    col = torch.trunc(landmarks[..., 0] / input_size * w).long()  # C++ int(): toward zero
    row = torch.trunc(landmarks[..., 1] / input_size * h).long()
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)  # (N, J)
    offsets = torch.arange(kernel, device=heatmaps.device) - (kernel - 1) // 2
    rows = row[..., None] + offsets  # (N, J, K)
    cols = col[..., None] + offsets
    valid = (((rows >= 0) & (rows < h))[..., :, None]
             & ((cols >= 0) & (cols < w))[..., None, :])  # (N, J, K, K)
    index = rows.clamp(0, h - 1)[..., :, None] * w + cols.clamp(0, w - 1)[..., None, :]
    conf = torch.sigmoid(heatmaps.reshape(n, j, h * w).gather(2, index.reshape(n, j, -1)))
    conf = conf.reshape(n, j, kernel, kernel) * valid.to(conf.dtype)  # (N, J, K, K)
    total = conf.sum(dim=(-1, -2))
    peak = conf.amax(dim=(-1, -2))
    safe = total.clamp(min=1e-12)
    mean_col = (conf * cols[..., None, :].to(conf.dtype)).sum(dim=(-1, -2)) / safe
    mean_row = (conf * rows[..., :, None].to(conf.dtype)).sum(dim=(-1, -2)) / safe
    refined = torch.stack([mean_col / w * input_size, mean_row / h * input_size], dim=-1)
    use = (inside & (peak >= min_confidence) & (total > 0))[..., None]
    return torch.where(use, refined, landmarks[..., :2])


class TopdownLandmarks(nn.Module):
    """(N, 3, 256, 256) RGB crops 0..255 -> landmarks (N, 39, 5), pose flags (N,)."""

    def __init__(self, net: BlazePoseLandmarkNet, kernel: int = 7,
                 min_confidence: float = 0.5) -> None:
        super().__init__()
        self.net = net
        self.kernel = kernel
        self.min_confidence = min_confidence
        self.input_size = INPUT_SIZE

    def forward(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raw, flag, heatmaps = self.net.pose(crops / 255.0)
        raw, heatmaps = raw.float(), heatmaps.float()
        xy = refine_from_heatmaps(raw, heatmaps, self.input_size, self.kernel,
                                  self.min_confidence)
        probs = torch.sigmoid(raw[..., 3:5])  # visibility, presence
        return torch.cat([xy, raw[..., 2:3], probs], dim=-1), flag[:, 0].float()
