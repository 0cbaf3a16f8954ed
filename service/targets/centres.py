"""Person boxes -> box-head targets: a person-centre heatmap and the box size at its centre
(CenterNet, Zhou et al. 2019), on the same grid as the confidence maps.

Cell (i, j) at stride s is centred on image pixel ((j + 0.5) s - 0.5, (i + 0.5) s - 0.5), as in
`service.targets.encode`. The heatmap is exp(-d^2 / (2 sigma^2)) around each box centre, max
over people, sigma growing with the box (`radius` x sqrt(w h), at least one cell); the size
target is (log(w / s), log(h / s)) at the cell nearest each centre, with weight 1 there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service.targets.encode import grid_to_image, image_to_grid, map_size


@dataclass(frozen=True)
class CentreTargets:
    heatmap: np.ndarray  # (1, h, w) float32 in [0, 1], 1 exactly at the centre cells
    size: np.ndarray  # (2, h, w) float32 log(w / s), log(h / s) at the centre cells
    size_weight: np.ndarray  # (1, h, w) float32, 1 at the centre cells


def encode_centres(
    boxes: np.ndarray, height: int, width: int, stride: int, radius: float = 0.08,
    min_side: float = 8.0,
) -> CentreTargets:
    """(N, 4) x1, y1, x2, y2 image pixels -> CentreTargets. Boxes are clipped to the image;
    a box whose clipped side is under `min_side` px, or whose centre leaves the image, is left
    out."""
    h, w = map_size(height, width, stride)
    heat = np.zeros((1, h, w), np.float32)
    size = np.zeros((2, h, w), np.float32)
    weight = np.zeros((1, h, w), np.float32)
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    b = np.stack([np.clip(b[:, 0], 0, width - 1), np.clip(b[:, 1], 0, height - 1),
                  np.clip(b[:, 2], 0, width - 1), np.clip(b[:, 3], 0, height - 1)], 1)
    bw, bh = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    b, bw, bh = b[(bw >= min_side) & (bh >= min_side)], bw[(bw >= min_side) & (bh >= min_side)], \
        bh[(bw >= min_side) & (bh >= min_side)]
    if len(b) == 0:
        return CentreTargets(heat, size, weight)
    centre = (b[:, :2] + b[:, 2:]) / 2  # (N, 2) image px
    cell = np.clip(np.round(image_to_grid(centre, stride)).astype(int), 0, [w - 1, h - 1])
    sigma = np.maximum(radius * np.sqrt(bw * bh), stride)  # (N,) image px
    # The peak sits on the centre cell so that the cell decodes to exactly 1.
    peak = grid_to_image(cell, stride)  # (N, 2)
    xs, ys = grid_to_image(np.arange(w), stride), grid_to_image(np.arange(h), stride)
    d2 = (ys[None, :, None] - peak[:, 1, None, None]) ** 2 + \
        (xs[None, None, :] - peak[:, 0, None, None]) ** 2  # (N, h, w)
    heat[0] = np.exp(-d2 / (2 * sigma[:, None, None] ** 2)).max(0)
    size[0, cell[:, 1], cell[:, 0]] = np.log(bw / stride)
    size[1, cell[:, 1], cell[:, 0]] = np.log(bh / stride)
    weight[0, cell[:, 1], cell[:, 0]] = 1.0
    return CentreTargets(heat, size, weight)
