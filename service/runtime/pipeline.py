"""Images (+ optional person boxes) -> poses: detector, pose net at several scales, parsing.

The batch path is split in two so the worker can overlap them: `forward_batch` runs the models
once per batch (one thread owns the device), `parse` turns one image's fused maps and fields into
poses (CPU, a thread pool). `predict` chains both for one image, without a server.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from service import parsing
from service.parsing import ParserConfig
from service.runtime.model_store import LoadedModel, ModelStoreError, load_model
from service.runtime.padding import crop_outputs, group_by_size, pad_batch, resize
from service.skeleton import Skeleton
from service.targets import map_size
from service.types import Box, Pose


@dataclass(frozen=True)
class PipelineConfig:
    scales: tuple[float, ...] = (1.0,)  # default when a request names none
    fp16: bool = False
    detector_threshold: float | None = None  # None: the detector manifest's, else 0.3
    max_pad_ratio: float = 1.3
    parser: ParserConfig = field(default_factory=ParserConfig)
    parser_name: str = "boxes"  # a key of service.parsing.PARSERS; "greedy" ignores boxes
    flip: bool = False  # also run the mirrored image and average (twice the forward time)


@dataclass(frozen=True)
class ImageInput:
    image: np.ndarray  # (H, W, 3) uint8 RGB
    boxes: list[Box] | None  # client boxes; None = ask the detector (or the greedy fallback)
    scales: tuple[float, ...]


@dataclass(frozen=True)
class ImageMaps:
    """One image's network output, fused over scales, on the grid of stride `stride`."""

    maps: np.ndarray  # (J+1, ceil(H/s), ceil(W/s))
    fields: np.ndarray  # (2C, ceil(H/s), ceil(W/s))
    boxes: list[Box] | None  # client or detector boxes; None = no detector: greedy boxes


@dataclass(frozen=True)
class BatchOutput:
    images: list[ImageMaps]
    detect_s: float
    forward_s: float


@dataclass(frozen=True)
class StageTimings:
    detect: float = 0.0  # seconds
    forward: float = 0.0
    parse: float = 0.0


@dataclass(frozen=True)
class PipelineResult:
    poses: list[Pose]
    timings: StageTimings


class Pipeline:
    """A pose model and an optional detector on one device."""

    def __init__(
        self, pose: LoadedModel, detector: LoadedModel | None, config: PipelineConfig
    ) -> None:
        if pose.kind != "pose" or pose.skeleton is None:
            raise ModelStoreError(f"model {pose.name!r} is a {pose.kind}, not a pose model")
        if detector is not None and detector.kind != "detector":
            raise ModelStoreError(f"model {detector.name!r} is a {detector.kind}, not a detector")
        self.pose, self.detector, self.config = pose, detector, config
        self.skeleton: Skeleton = pose.skeleton
        self.stride = pose.stride
        self.device = torch.device(pose.device)
        self.dtype = torch.float16 if config.fp16 else torch.float32
        self.detector_threshold = _threshold(detector, config.detector_threshold)
        if config.fp16:
            for model in self.models:
                model.module.half()

    @classmethod
    def from_store(
        cls,
        pose_name: str,
        detector_name: str | None = None,
        device: str = "cpu",
        store: Path | None = None,
        config: PipelineConfig | None = None,
    ) -> Pipeline:
        pose = load_model(pose_name, store, device)
        detector = load_model(detector_name, store, device) if detector_name else None
        return cls(pose, detector, config or PipelineConfig())

    @property
    def models(self) -> list[LoadedModel]:
        return [self.pose] + ([self.detector] if self.detector is not None else [])

    def warmup(self, height: int = 240, width: int = 320) -> None:
        """One batch through every model so the first request pays no lazy initialisation."""
        image = np.full((height, width, 3), 127, dtype=np.uint8)
        out = self.forward_batch([ImageInput(image, None, self.config.scales)])
        self.parse(out.images[0])

    def forward_batch(self, inputs: list[ImageInput]) -> BatchOutput:
        """The model part of a batch: detector on images without boxes, pose net per scale."""
        start = time.perf_counter()
        boxes = self.detect_missing(inputs)
        detected = time.perf_counter()
        per_image: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in inputs]
        for scales in sorted({inp.scales for inp in inputs}):
            members = [i for i, inp in enumerate(inputs) if inp.scales == scales]
            for scale in scales:
                outputs = self._forward_scale([inputs[i].image for i in members], scale)
                for i, out in zip(members, outputs, strict=True):
                    per_image[i].append(out)
        images = [
            self._fuse(inp.image.shape[:2], outs, bx)
            for inp, outs, bx in zip(inputs, per_image, boxes, strict=True)
        ]
        self._sync()
        return BatchOutput(images, detected - start, time.perf_counter() - detected)

    def parse(self, item: ImageMaps) -> list[Pose]:
        """Fused maps -> poses by Algorithm 1 in the boxes; greedy boxes when boxes is None."""
        args = (item.maps, item.fields, self.skeleton, self.stride)
        return parsing.parse(self.config.parser_name, *args, item.boxes, self.config.parser)

    def predict(
        self,
        image_rgb: np.ndarray,
        boxes: list[Box] | None = None,
        scales: tuple[float, ...] | None = None,
    ) -> PipelineResult:
        """(H, W, 3) uint8 RGB image -> poses in its pixels, single image, no server."""
        out = self.forward_batch([ImageInput(image_rgb, boxes, scales or self.config.scales)])
        start = time.perf_counter()
        poses = self.parse(out.images[0])
        timings = StageTimings(out.detect_s, out.forward_s, time.perf_counter() - start)
        return PipelineResult(poses, timings)

    def detect_missing(self, inputs: list[ImageInput]) -> list[list[Box] | None]:
        """Client boxes as given; detector boxes for the others (None without a detector)."""
        boxes: list[list[Box] | None] = [inp.boxes for inp in inputs]
        todo = [i for i, inp in enumerate(inputs) if inp.boxes is None]
        if self.detector is None or not todo:
            return boxes
        sizes = [(int(inputs[i].image.shape[0]), int(inputs[i].image.shape[1])) for i in todo]
        for group in group_by_size(sizes, self.config.max_pad_ratio):  # one padded batch each
            found = self._detect([inputs[todo[g]].image for g in group])
            for g, image_boxes in zip(group, found, strict=True):
                boxes[todo[g]] = image_boxes
        return boxes

    @torch.inference_mode()
    def _detect(self, images: list[np.ndarray]) -> list[list[Box]]:
        assert self.detector is not None
        rows = self.detector.module(pad_batch(images, self.device, self.dtype))  # (B, K, 5)
        rows = rows.float().cpu().numpy()
        return [_boxes(rows[b], images[b].shape[:2], self.detector_threshold)
                for b in range(len(images))]  # fmt: skip

    @torch.inference_mode()
    def _forward_scale(
        self, images: list[np.ndarray], scale: float
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Images at one scale, grouped by size and padded -> per image (maps, fields)."""
        scaled = [resize(im, scale) for im in images]
        sizes = [(int(im.shape[0]), int(im.shape[1])) for im in scaled]
        results: list[tuple[np.ndarray, np.ndarray]] = [(np.empty(0), np.empty(0))] * len(images)
        # Mirroring maps cells onto cells only when the net pads nothing itself: pad to a
        # multiple of the feature stride (2 x the output stride covers every preset).
        multiple = 2 * self.stride if self.config.flip else 1
        for group in group_by_size(sizes, self.config.max_pad_ratio):
            batch = pad_batch([scaled[g] for g in group], self.device, self.dtype, multiple)
            maps, fields = self.pose.module(batch)  # (B, J+1, h, w), (B, 2C, h, w)
            if self.config.flip:
                maps, fields = self._add_mirrored(batch, maps, fields)
            group_sizes = [sizes[g] for g in group]
            crops = zip(crop_outputs(maps, group_sizes, self.stride),
                        crop_outputs(fields, group_sizes, self.stride), strict=True)  # fmt: skip
            for g, pair in zip(group, crops, strict=True):
                results[g] = pair
        return results

    def _add_mirrored(
        self, batch: torch.Tensor, maps: torch.Tensor, fields: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The mean of the outputs of `batch` and of its mirror image, brought back."""
        mirrored_maps, mirrored_fields = self.pose.module(batch.flip(-1))
        back_maps, back_fields = parsing.unflip_outputs(
            mirrored_maps.float().cpu().numpy(), mirrored_fields.float().cpu().numpy(),
            self.skeleton,
        )
        return ((maps.float().cpu() + torch.from_numpy(back_maps)) / 2,
                (fields.float().cpu() + torch.from_numpy(back_fields)) / 2)  # fmt: skip

    def _fuse(
        self,
        size: tuple[int, ...],
        outputs: list[tuple[np.ndarray, np.ndarray]],
        boxes: list[Box] | None,
    ) -> ImageMaps:
        grid = map_size(int(size[0]), int(size[1]), self.stride)
        if len(outputs) == 1 and outputs[0][0].shape[1:] == grid:
            maps, fields = outputs[0]
        else:  # Sec. IV-A: resize each scale's maps and fields back and average
            maps, fields = parsing.fuse_scales(outputs, size=grid)
        return ImageMaps(maps, fields, boxes)

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def _threshold(detector: LoadedModel | None, configured: float | None) -> float:
    """The configured threshold, else the manifest's recommended one (best F1 on validation),
    else the module's own floor (`internal.score_threshold`), else 0.3."""
    if configured is not None:
        return configured
    manifest = detector.manifest if detector is not None else {}
    if "recommended_score_threshold" in manifest:
        return float(manifest["recommended_score_threshold"])
    return float(manifest.get("internal", {}).get("score_threshold", 0.3))


def _boxes(rows: np.ndarray, size: tuple[int, ...], threshold: float) -> list[Box]:
    """(K, 5) detector rows [x1, y1, x2, y2, score] -> boxes clipped to the (H, W) image."""
    height, width = int(size[0]), int(size[1])
    found = []
    for x1, y1, x2, y2, score in rows.astype(np.float64):
        if not np.isfinite([x1, y1, x2, y2, score]).all() or score < threshold:
            continue
        x1, x2 = float(np.clip(x1, 0, width - 1)), float(np.clip(x2, 0, width - 1))
        y1, y2 = float(np.clip(y1, 0, height - 1)), float(np.clip(y2, 0, height - 1))
        if x2 > x1 and y2 > y1:
            found.append(Box(x1, y1, x2, y2, float(score), "detector"))
    return found
