"""Mosaic canvases -> training tensors for the bottom-up net with a box head: the paper's maps
and fields (Eq. 1-4), per-channel loss masks (unlabelled joints, ignore regions) and the
box head's centre targets. Draws are random (an endless stream), seeded per worker and rank."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from service.data.mosaic import Mosaic, MosaicConfig
from service.data.tiles import TileSet
from service.skeleton import Skeleton
from service.targets import TargetConfig, encode
from service.targets.centres import encode_centres
from service.targets.unlabelled import channel_masks


@dataclass(frozen=True)
class MosaicDataConfig:
    mosaic: MosaicConfig = field(default_factory=MosaicConfig)
    targets: TargetConfig = field(default_factory=lambda: TargetConfig(
        stride=4, sigma=6.0, delta=4.0, relative_sigma=0.06))
    centre_radius: float = 0.08
    seed: int = 0


def encode_sample(image: np.ndarray, keypoints: np.ndarray, boxes: np.ndarray,
                  ignore: np.ndarray | None, skeleton: Skeleton,
                  cfg: MosaicDataConfig) -> dict[str, torch.Tensor]:
    """One canvas -> image (3, S, S) float 0..255, maps (J+1, h, w), fields (2C, h, w),
    map_mask (J+1, h, w), field_mask (2C, h, w), centre (1, h, w), size (2, h, w),
    size_weight (1, h, w), mask (h, w)."""
    height, width = image.shape[:2]
    t = encode(keypoints, skeleton, height, width, cfg.targets, ignore)
    stride = cfg.targets.stride
    map_mask, field_mask = channel_masks(keypoints, boxes, t.mask, skeleton, height, width,
                                         stride)  # fmt: skip
    c = encode_centres(boxes, height, width, stride, cfg.centre_radius)
    arrays = {
        "image": np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32),
        "maps": t.maps, "fields": t.fields, "map_mask": map_mask, "field_mask": field_mask,
        "centre": c.heatmap, "size": c.size, "size_weight": c.size_weight, "mask": t.mask,
    }  # fmt: skip
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}


class MosaicDataset(IterableDataset[dict[str, torch.Tensor]]):
    """An endless stream of encoded mosaic canvases drawn from `tiles`."""

    def __init__(self, tiles: TileSet, skeleton: Skeleton, cfg: MosaicDataConfig,
                 rank: int = 0) -> None:
        self.tiles, self.skeleton, self.cfg, self.rank = tiles, skeleton, cfg, rank

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        info = get_worker_info()
        worker = info.id if info is not None else 0
        if info is not None:
            cv2.setNumThreads(1)
        rng = np.random.default_rng([self.cfg.seed, self.rank, worker,
                                     torch.initial_seed() % (1 << 32)])  # fmt: skip
        mosaic = Mosaic(self.tiles, self.skeleton, self.cfg.mosaic)
        while True:
            s = mosaic.draw(rng)
            yield encode_sample(s.image, s.keypoints, s.boxes, s.ignore, self.skeleton, self.cfg)
