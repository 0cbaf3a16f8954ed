"""Person boxes -> CenterNet training targets: centre heatmap, log sizes, offsets, masks.

Conventions match `decode.py`: continuous pixel coordinates, cell j centred on (j + 0.5) * s.
A box centre c falls in cell round(c / s - 0.5) with the offset c / s - 0.5 - cell in
[-0.5, 0.5]. The heatmap is an elliptical Gaussian per box (TTFNet's sigma = alpha * size / 6,
alpha = 0.54, so tall people get tall blobs) centred on the centre cell, exactly 1 there, as the
CenterNet focal loss expects; overlapping people take the maximum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ALPHA = 0.54
MIN_SIGMA = 0.5  # cells


@dataclass(frozen=True)
class DetectorTargets:
    heatmap: np.ndarray  # (1, h, w) float32 in 0..1, 1 at box centres
    size: np.ndarray  # (2, h, w) log(box w / s), log(box h / s) of the box owning each cell
    offset: np.ndarray  # (2, h, w) centre offset (x, y) in cells at centres, 0 elsewhere
    mask: np.ndarray  # (h, w) float32, 1 at box centres
    size_weight: np.ndarray  # (h, w) float32: the owning box's Gaussian, 0 where no box


def grid_size(height: int, width: int, stride: int) -> tuple[int, int]:
    return -(-height // stride), -(-width // stride)


def clip_boxes(boxes: np.ndarray, height: int, width: int, min_side: float = 2.0) -> np.ndarray:
    """(N, 4) xyxy -> (M, 4) clipped to the image, dropping boxes thinner than `min_side`."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, height)
    keep = (boxes[:, 2] - boxes[:, 0] >= min_side) & (boxes[:, 3] - boxes[:, 1] >= min_side)
    return boxes[keep]


def _draw_gaussian(
    heat: np.ndarray, cx: int, cy: int, sx: float, sy: float
) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray]:
    """Max-paint exp(-dx^2 / 2sx^2 - dy^2 / 2sy^2) around cell (cy, cx) into heat (h, w).

    Returns the window, the blob in it, and where the blob won (was above the old heat).
    """
    h, w = heat.shape
    rx, ry = int(np.ceil(3 * sx)), int(np.ceil(3 * sy))
    x0, x1 = max(cx - rx, 0), min(cx + rx + 1, w)
    y0, y1 = max(cy - ry, 0), min(cy + ry + 1, h)
    dx = np.arange(x0, x1) - cx
    dy = np.arange(y0, y1) - cy
    blob = np.exp(-(dy[:, None] ** 2) / (2 * sy**2) - (dx[None, :] ** 2) / (2 * sx**2))
    window = (slice(y0, y1), slice(x0, x1))
    won = blob > heat[window]
    np.maximum(heat[window], blob, out=heat[window])
    return window, blob, won


def encode_boxes(boxes: np.ndarray, height: int, width: int, stride: int) -> DetectorTargets:
    """(N, 4) xyxy boxes in pixels of a (height, width) image -> targets at `stride`.

    Boxes are clipped to the image first; the maps are (ceil(height/s), ceil(width/s)).
    """
    h, w = grid_size(height, width, stride)
    heat = np.zeros((h, w), np.float32)
    size = np.zeros((2, h, w), np.float32)
    offset = np.zeros((2, h, w), np.float32)
    mask = np.zeros((h, w), np.float32)
    size_weight = np.zeros((h, w), np.float32)
    clipped = clip_boxes(boxes, height, width)
    # Large boxes first, so a small person's centre wins a shared cell (it has no other cell).
    order = np.argsort(-(clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1]))
    for x1, y1, x2, y2 in clipped[order]:
        gx, gy = (x1 + x2) / 2 / stride - 0.5, (y1 + y2) / 2 / stride - 0.5
        cx, cy = min(max(int(round(gx)), 0), w - 1), min(max(int(round(gy)), 0), h - 1)
        bw, bh = (x2 - x1) / stride, (y2 - y1) / stride
        window, blob, won = _draw_gaussian(
            heat, cx, cy, max(ALPHA * bw / 6, MIN_SIGMA), max(ALPHA * bh / 6, MIN_SIGMA)
        )
        # TTFNet: the size is regressed on every cell the box's Gaussian owns, weighted by it,
        # which trains faster than the centre cell alone; decoding reads it at the peak.
        size[(slice(None), *window)][:, won] = np.array([[np.log(bw)], [np.log(bh)]])
        size_weight[window][won] = blob[won]
        size[:, cy, cx] = np.log(bw), np.log(bh)
        size_weight[cy, cx] = 1.0
        offset[:, cy, cx] = gx - cx, gy - cy
        mask[cy, cx] = 1.0
    return DetectorTargets(heat[None], size, offset, mask, size_weight)
