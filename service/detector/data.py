"""COCO box files -> augmented training samples: a fixed-size canvas and its CenterNet targets.

Each sample is resized so its long side is the working resolution times a random scale, placed
at a random offset on a canvas filled with the mean colour (the network then sees the same zero
padding as at inference), flipped and colour-jittered. Annotations with iscrowd 1 or with no
labelled keypoint (a sliver of a person at the border) become ignore regions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from service.detector.config import DetectorConfig
from service.detector.targets import encode_boxes, grid_size


@dataclass(frozen=True)
class BoxRecord:
    path: Path
    width: int
    height: int
    boxes: np.ndarray  # (N, 4) xyxy of people to detect
    ignore: np.ndarray  # (M, 4) xyxy of regions where detections are neither right nor wrong


@dataclass(frozen=True)
class AugmentConfig:
    # Log-uniform scale relative to the working size; above 1 the canvas is a random crop
    # (zoom-in), which gives the large people the validation scenes hold.
    scale_range: tuple[float, float] = (0.7, 2.5)
    flip: float = 0.5
    brightness: float = 0.25
    contrast: float = 0.25
    saturation: float = 0.3
    grayscale: float = 0.05


def _xyxy(bbox: list[float]) -> list[float]:
    x, y, w, h = bbox
    return [x, y, x + w, y + h]


def _is_ignore(ann: dict[str, Any]) -> bool:
    return bool(ann.get("iscrowd", 0)) or ann.get("num_keypoints", 1) == 0


def read_coco_boxes(
    root: Path, limit: int | None = None, annotations: Path | None = None,
    images: Path | None = None,
) -> list[BoxRecord]:
    """`root/annotations.json` (+ `root/images/`) -> one BoxRecord per image, in file order.
    `annotations` and `images` name the file and the image directory when they lie elsewhere."""
    coco = json.loads(Path(annotations or Path(root) / "annotations.json").read_text())
    per_image: dict[int, list[dict[str, Any]]] = {}
    for ann in coco["annotations"]:
        per_image.setdefault(ann["image_id"], []).append(ann)
    records = []
    for img in coco["images"][:limit]:
        path = Path(images or Path(root) / "images") / img["file_name"]
        if not path.is_file():
            path = Path(root) / img["file_name"]
        anns = per_image.get(img["id"], [])
        boxes = [_xyxy(a["bbox"]) for a in anns if not _is_ignore(a)]
        ignore = [_xyxy(a["bbox"]) for a in anns if _is_ignore(a)]
        records.append(BoxRecord(
            path, int(img["width"]), int(img["height"]),
            np.array(boxes, np.float64).reshape(-1, 4), np.array(ignore, np.float64).reshape(-1, 4),
        ))  # fmt: skip
    return records


def load_rgb(path: Path) -> np.ndarray:
    """An image file -> (H, W, 3) uint8 RGB."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read image {path}")
    return np.ascontiguousarray(image[..., ::-1])


def _jitter(image: np.ndarray, rng: np.random.Generator, aug: AugmentConfig) -> np.ndarray:
    """(H, W, 3) uint8 -> float32 colour-jittered copy in 0..255."""
    x = image.astype(np.float32)
    x *= 1 + rng.uniform(-aug.brightness, aug.brightness)
    mean = x.mean()
    x = (x - mean) * (1 + rng.uniform(-aug.contrast, aug.contrast)) + mean
    gray = x.mean(axis=2, keepdims=True)
    sat = 0.0 if rng.random() < aug.grayscale else 1 + rng.uniform(-aug.saturation, aug.saturation)
    return np.clip(gray + (x - gray) * sat, 0, 255)


def augment(
    record: BoxRecord, image: np.ndarray, rng: np.random.Generator, canvas: tuple[int, int],
    long_side: int, mean: tuple[float, float, float], aug: AugmentConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """-> (canvas (Hc, Wc, 3) float32 RGB 0..255, boxes (N, 4), ignore (M, 4)) in canvas pixels."""
    lo, hi = np.log(aug.scale_range[0]), np.log(aug.scale_range[1])
    scale = long_side / max(image.shape[:2]) * float(np.exp(rng.uniform(lo, hi)))
    h, w = max(1, round(image.shape[0] * scale)), max(1, round(image.shape[1] * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = _jitter(cv2.resize(image, (w, h), interpolation=interp), rng, aug)
    sx, sy = w / image.shape[1], h / image.shape[0]
    hc, wc = canvas
    ox = int(rng.integers(min(0, wc - w), max(0, wc - w) + 1))
    oy = int(rng.integers(min(0, hc - h), max(0, hc - h) + 1))
    out = np.empty((hc, wc, 3), np.float32)
    out[:] = np.array(mean, np.float32) * 255
    src = resized[max(0, -oy): max(0, -oy) + hc, max(0, -ox): max(0, -ox) + wc]
    out[max(0, oy): max(0, oy) + src.shape[0], max(0, ox): max(0, ox) + src.shape[1]] = src
    shift = np.array([sx, sy, sx, sy]), np.array([ox, oy, ox, oy])
    boxes, ignore = (b * shift[0] + shift[1] for b in (record.boxes, record.ignore))
    if rng.random() < aug.flip:
        out = out[:, ::-1]
        boxes, ignore = (np.stack([wc - b[:, 2], b[:, 1], wc - b[:, 0], b[:, 3]], 1)
                         for b in (boxes, ignore))
    return np.ascontiguousarray(out), boxes, ignore


def ignore_weight(ignore: np.ndarray, height: int, width: int, stride: int) -> np.ndarray:
    """(M, 4) ignore boxes -> (h, w) float32 loss weight: 0 on cells whose centre is inside one."""
    h, w = grid_size(height, width, stride)
    weight = np.ones((h, w), np.float32)
    centres_x, centres_y = (np.arange(w) + 0.5) * stride, (np.arange(h) + 0.5) * stride
    for x1, y1, x2, y2 in ignore:
        cols = (centres_x >= x1) & (centres_x <= x2)
        rows = (centres_y >= y1) & (centres_y <= y2)
        weight[np.ix_(rows, cols)] = 0.0
    return weight


def make_batch(
    records: list[BoxRecord], rng: np.random.Generator, cfg: DetectorConfig,
    canvas: tuple[int, int], aug: AugmentConfig,
) -> dict[str, torch.Tensor]:
    """Records -> tensors: image (B, 3, Hc, Wc) RGB 0..255, heatmap (B, 1, h, w), size and
    offset (B, 2, h, w), mask (B, h, w) at centres, weight (B, h, w) 0 on ignore regions,
    size_weight (B, h, w) where sizes are regressed."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in
                                          ("image", "heatmap", "size", "offset", "mask", "weight",
                                           "size_weight")}
    for record in records:
        image, boxes, ignore = augment(record, load_rgb(record.path), rng, canvas,
                                       cfg.input_long_side, cfg.mean, aug)
        t = encode_boxes(boxes, canvas[0], canvas[1], cfg.output_stride)
        weight = np.maximum(ignore_weight(ignore, *canvas, cfg.output_stride), t.mask)
        for key, value in (("image", image.transpose(2, 0, 1)), ("heatmap", t.heatmap),
                           ("size", t.size), ("offset", t.offset), ("mask", t.mask),
                           ("weight", weight), ("size_weight", t.size_weight)):
            parts[key].append(value)
    # Contiguous NCHW: a channels-last batch (what the HWC -> CHW transpose gives) makes the
    # backward pass of torch 2.13's CPU convolutions crash on small channel counts.
    return {k: torch.from_numpy(np.ascontiguousarray(np.stack(v), dtype=np.float32))
            for k, v in parts.items()}
