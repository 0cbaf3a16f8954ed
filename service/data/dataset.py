"""`Source` index -> training tensors: augmented image + Eq. 1-4 targets (maps, fields, loss
mask) + padded person boxes for the detector. Targets are encoded in `__getitem__`, i.e. in the
DataLoader workers; every tensor has a fixed shape, so the default collate stacks them."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from service.data.augment import AugmentConfig, apply_warp, augment, fit_warp
from service.data.sample import Sample, Source, boxes_mask
from service.data.synth.scene import SynthConfig, generate_scene
from service.skeleton import AIC14, Skeleton
from service.targets import TargetConfig, encode


class SynthSource:
    """Synthetic scenes generated on the fly: index i uses default_rng(seed + i), so it is the
    same scene `boxpose synth --seed seed` writes as image i. People with no labelled joint become
    ignore regions, as in the COCO reader."""

    skeleton = AIC14

    def __init__(
        self, count: int, seed: int = 0, width: int = 384, height: int = 384,
        config: SynthConfig | None = None,
    ) -> None:
        self.count, self.seed, self.width, self.height, self.config = (
            count, seed, width, height, config or SynthConfig())

    def __len__(self) -> int:
        return self.count

    def load(self, index: int) -> Sample:
        scene = generate_scene(np.random.default_rng(self.seed + index), self.width,
                               self.height, self.config)
        labelled = (scene.keypoints[..., 2] > 0).any(axis=1)  # (N,)
        ignore = None
        if not labelled.all():
            ignore = boxes_mask(scene.boxes[~labelled], self.height, self.width)
        return Sample(scene.image, scene.keypoints[labelled], scene.boxes[labelled], ignore)


@dataclass(frozen=True)
class DatasetConfig:
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    targets: TargetConfig = field(default_factory=TargetConfig)
    max_people: int = 32  # rows of the padded `boxes` / `keypoints` tensors
    train: bool = True  # False: no augmentation, the whole image fitted into the square


class PoseDataset(Dataset[dict[str, torch.Tensor]]):
    """Items: image (3, S, S) float RGB 0..255; maps (J+1, h, w); fields (2C, h, w); mask (h, w);
    boxes (M, 4) xyxy in output pixels, zero-padded; num_boxes (); keypoints (M, J, 3);
    h, w = ceil(S / stride)."""

    def __init__(self, source: Source, config: DatasetConfig = DatasetConfig(),
                 skeleton: Skeleton | None = None) -> None:
        self.source = source
        self.skeleton: Skeleton = skeleton or source.skeleton
        self.config = config
        self._draws = 0

    def __len__(self) -> int:
        return len(self.source)

    def _rng(self, index: int) -> np.random.Generator:
        # Different per worker (torch seeds each worker) and per draw, reproducible per run.
        self._draws += 1
        return np.random.default_rng([index, self._draws, torch.initial_seed() % (1 << 63)])

    def sample(self, index: int) -> Sample:
        """The augmented sample before target encoding (for inspection and tests)."""
        raw = self.source.load(index)
        cfg = self.config.augment
        if self.config.train:
            return augment(raw, self.skeleton, self._rng(index), cfg)
        return apply_warp(raw, fit_warp(raw, cfg), self.skeleton, cfg)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if torch.utils.data.get_worker_info() is not None:
            cv2.setNumThreads(1)  # the workers are the parallelism; avoid oversubscription
        s = self.sample(index)
        size = self.config.augment.size
        t = encode(s.keypoints, self.skeleton, size, size, self.config.targets, s.ignore)
        m = self.config.max_people
        n = min(len(s.boxes), m)
        boxes = np.zeros((m, 4), np.float32)
        boxes[:n] = s.boxes[:n]
        kp = np.zeros((m, self.skeleton.num_joints, 3), np.float32)
        kp[:n] = s.keypoints[:n]
        image = np.ascontiguousarray(s.image.transpose(2, 0, 1), dtype=np.float32)  # (3, S, S)
        return {
            "image": torch.from_numpy(image),
            "maps": torch.from_numpy(t.maps), "fields": torch.from_numpy(t.fields),
            "mask": torch.from_numpy(t.mask),
            "boxes": torch.from_numpy(boxes), "num_boxes": torch.tensor(n, dtype=torch.int64),
            "keypoints": torch.from_numpy(kp),
        }  # fmt: skip
