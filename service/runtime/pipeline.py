"""Images (+ optional person boxes) -> poses: detector, pose net at several scales, parsing.

The batch path is split in two so the worker can overlap them: `forward_batch` runs the models
once per batch (one thread owns the device), `parse` turns one image's fused maps and fields into
poses (CPU, a thread pool). `predict` chains both for one image, without a server.

Both models run on the working image (`working.py`: long side `working_size`, never upscaled);
scales are relative to it; boxes and poses come back in the original image's pixels. Client boxes
are answered one to one, in their order (`answer_each_box`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from service import parsing
from service.parsing import ParserConfig
from service.runtime.client_boxes import ONE_PER_BOX_PARSERS, answer_each_box
from service.runtime.model_store import LoadedModel, ModelStoreError, load_model
from service.runtime.padding import crop_outputs, group_by_size, pad_batch, resize
from service.runtime.person_scale import PersonScale, merge_boxes, scaled
from service.runtime.working import DEFAULT_WORKING_SIZE, Frame, WorkingInput, prepare
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
    # Long side of the image the models see; None: the pose manifest's `working_size`, else
    # DEFAULT_WORKING_SIZE; 0: the whole image.
    working_size: int | None = None
    # Run the pose net at the scale the pose manifest's `person_scale` asks for (person_scale.py);
    # False: at the requested scales of the working image.
    person_scale: bool = True
    # Pose passes per image at most, overriding the manifest's `person_scale.max_passes` (1: one
    # pass at the median person's scale, as before per-group passes); None: the manifest's.
    max_pose_passes: int | None = None


@dataclass(frozen=True)
class ImageInput:
    image: np.ndarray  # (H', W', 3) uint8 RGB: the original, or a smaller rendition of it
    boxes: list[Box] | None  # client boxes in original pixels; None = ask the detector
    scales: tuple[float, ...]
    size: tuple[int, int] | None = None  # (H, W) of the original; None = the image's own


@dataclass(frozen=True)
class ScaleGroup:
    """Boxes whose people needed a pose pass of their own scale, with that pass's output."""

    maps: np.ndarray  # as ImageMaps.maps
    fields: np.ndarray
    boxes: list[Box]  # some of ImageMaps.boxes (the same objects)


@dataclass(frozen=True)
class ImageMaps:
    """One image's network output, fused over scales, on the grid of stride `stride`."""

    maps: np.ndarray  # (J+1, ceil(h/s), ceil(w/s)), h x w the working image
    fields: np.ndarray  # (2C, ceil(h/s), ceil(w/s))
    boxes: list[Box] | None  # working-image client or detector boxes; None = greedy boxes
    frame: Frame | None = None  # original <-> working pixels; None = the same
    client: list[Box] | None = None  # the client's boxes as sent (answered one to one)
    # Boxes parsed in the maps of another pose pass (person scale: people of very different
    # sizes); every other box is parsed in `maps` and `fields`.
    others: tuple[ScaleGroup, ...] = ()


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
        self.working_size = _working_size(pose, config.working_size)
        # A pose model with a box head answers (maps, fields, boxes) in one call: its boxes
        # serve images without client boxes when no separate detector is loaded.
        self.box_head = "box_head" in pose.manifest
        self.box_threshold = float(pose.manifest.get("box_head", {}).get(
            "recommended_score_threshold", 0.3)) if config.detector_threshold is None \
            else config.detector_threshold
        self.person_scale = PersonScale.from_manifest(pose.manifest) if config.person_scale \
            else None
        if self.person_scale is not None and config.max_pose_passes is not None:
            self.person_scale = replace(self.person_scale, max_passes=config.max_pose_passes)
        # With a person scale, the head's boxes come from their own small pass (person_scale.py)
        self.box_pass = self.person_scale if self.box_head and detector is None else None
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
        if pose.kind == "topdown":  # a single-person model on crops (runtime/topdown.py)
            from service.runtime.topdown import TopdownPipeline

            return TopdownPipeline(pose, detector, config or PipelineConfig())
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
        """The model part of a batch: each image to its working size, the detector on images
        without boxes, the pose net per scale."""
        start = time.perf_counter()
        work = [prepare(inp.image, inp.size, inp.boxes, self.working_size) for inp in inputs]
        boxes = self._detect_missing(work)
        if self.box_pass is not None:
            boxes = self._box_pass(work, boxes, self.box_pass)
        detected = time.perf_counter()
        plans = [self._plan(w, inp.scales, bx) for w, inp, bx in zip(work, inputs, boxes,
                                                                      strict=True)]
        passes = [(i, g) for i, plan in enumerate(plans) for g in range(len(plan))]
        outs: dict[tuple[int, int], list[tuple[np.ndarray, np.ndarray]]] = {p: [] for p in passes}
        head: list[tuple[float, list[Box]]] = [(np.inf, []) for _ in inputs]
        for scales in sorted({plans[i][g][0] for i, g in passes}):
            members = [(i, g) for i, g in passes if plans[i][g][0] == scales]
            for scale in scales:
                outputs = self._forward_scale([work[i].image for i, _ in members], scale)
                for (i, g), (maps, fields, found) in zip(members, outputs, strict=True):
                    outs[(i, g)].append((maps, fields))
                    if found is not None and abs(np.log(scale)) < head[i][0]:
                        head[i] = (abs(np.log(scale)), found)  # the scale nearest 1 wins
        if self.box_head and self.detector is None:
            boxes = [bx if bx is not None else found for bx, (_, found) in zip(boxes, head,
                                                                              strict=True)]
        images = [
            self._fuse(work[i], [outs[(i, g)] for g in range(len(plans[i]))],
                       [parsed_in for _, parsed_in in plans[i]], boxes[i], inp.boxes)
            for i, inp in enumerate(inputs)
        ]
        self._sync()
        return BatchOutput(images, detected - start, time.perf_counter() - detected)

    def parse(self, item: ImageMaps) -> list[Pose]:
        """Fused maps -> poses in original pixels by Algorithm 1 in the boxes (greedy boxes when
        boxes is None); client boxes answered one to one, in order."""

        def parse_in(maps: np.ndarray, fields: np.ndarray, boxes: list[Box] | None,
                     config: ParserConfig) -> list[Pose]:
            args = (maps, fields, self.skeleton, self.stride, boxes, config)
            return parsing.parse(self.config.parser_name, *args)

        def run(boxes: list[Box] | None, config: ParserConfig) -> list[Pose]:
            if boxes is None or not item.others:
                return parse_in(item.maps, item.fields, boxes, config)
            poses: list[Pose] = []
            elsewhere: set[int] = set()
            for group in item.others:  # each box in the maps of its own pass
                mine = {id(b) for b in group.boxes}
                elsewhere |= mine
                if chosen := [b for b in boxes if id(b) in mine]:
                    poses += parse_in(group.maps, group.fields, chosen, config)
            if rest := [b for b in boxes if id(b) not in elsewhere]:
                poses += parse_in(item.maps, item.fields, rest, config)
            return poses

        poses = run(item.boxes, self.config.parser)
        honours_boxes = self.config.parser_name in ONE_PER_BOX_PARSERS
        if item.client is not None and item.boxes is not None and honours_boxes:
            keep_all = replace(self.config.parser, use_nms=False)
            poses = answer_each_box(poses, item.boxes, self.skeleton.num_joints,
                                    lambda rest: run(rest, keep_all))  # fmt: skip
            return [_out(item.frame, p, b) for p, b in zip(poses, item.client, strict=True)]
        return [_out(item.frame, p) for p in poses]

    def predict(
        self,
        image_rgb: np.ndarray,
        boxes: list[Box] | None = None,
        scales: tuple[float, ...] | None = None,
        size: tuple[int, int] | None = None,
    ) -> PipelineResult:
        """(H', W', 3) uint8 RGB image of an (H, W) original (`size`; None: its own) -> poses
        in the original's pixels, single image, no server."""
        chosen = scales or self.config.scales
        out = self.forward_batch([ImageInput(image_rgb, boxes, chosen, size)])
        start = time.perf_counter()
        poses = self.parse(out.images[0])
        timings = StageTimings(out.detect_s, out.forward_s, time.perf_counter() - start)
        return PipelineResult(poses, timings)

    def detect_missing(self, inputs: list[ImageInput]) -> list[list[Box] | None]:
        """Client boxes as given; detector boxes (found on the working image, in original
        pixels) for the others, or the pose model's own box-head boxes when it has a head and
        no detector is loaded (every box above the threshold, before parsing); None without
        either."""
        work = [prepare(inp.image, inp.size, inp.boxes, self.working_size) for inp in inputs]
        found = self._detect_missing(work)
        if self.box_pass is not None:
            found = self._box_pass(work, found, self.box_pass)
        elif self.box_head and self.detector is None:
            found = [bx if bx is not None else self._forward_scale([w.image], 1.0)[0][2]
                     for w, bx in zip(work, found, strict=True)]  # fmt: skip
        return [inp.boxes if inp.boxes is not None or bx is None
                else [w.frame.box_out(b) for b in bx]
                for inp, w, bx in zip(inputs, work, found, strict=True)]  # fmt: skip

    def _detect_missing(self, inputs: list[WorkingInput]) -> list[list[Box] | None]:
        """Working-image boxes: the client's, else the detector's (None without one)."""
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

    def _box_pass(self, work: list[WorkingInput], boxes: list[list[Box] | None],
                  person_scale: PersonScale) -> list[list[Box] | None]:
        """The box head's boxes (working pixels) for images without any, found on the working
        image resized to each of the person scale's box-pass sizes and merged."""
        out = list(boxes)
        found: dict[int, list[Box]] = {i: [] for i, bx in enumerate(boxes) if bx is None}
        by_scale: dict[float, list[int]] = {}
        for i in found:
            for scale in person_scale.box_scales(work[i].image.shape[:2]):
                by_scale.setdefault(scale, []).append(i)
        for scale, members in by_scale.items():
            outputs = self._forward_scale([work[i].image for i in members], scale)
            for i, (_, _, head_boxes) in zip(members, outputs, strict=True):
                found[i] += head_boxes or []
        several = len(person_scale.box_long_side) > 1
        for i, image_boxes in found.items():
            out[i] = merge_boxes(image_boxes) if several else image_boxes
        return out

    def _plan(self, work: WorkingInput, requested: tuple[float, ...],
              boxes: list[Box] | None) -> list[tuple[tuple[float, ...], list[Box] | None]]:
        """One image's pose passes: (the scales each runs at, the boxes parsed in its maps).
        One pass at the requested scales, unless the manifest asks for a person scale and the
        image has boxes: then a pass per group of similar-sized people, its scales relative to
        the group's person scale."""
        if self.person_scale is None or not boxes:
            return [(requested, boxes)]
        shape = (int(work.image.shape[0]), int(work.image.shape[1]))
        return [(scaled(requested, base), members) for base, members in
                self.person_scale.groups(boxes, shape, self.working_size)]

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
    ) -> list[tuple[np.ndarray, np.ndarray, list[Box] | None]]:
        """Images at one scale, grouped by size and padded -> per image (maps, fields, boxes of
        the box head in the unscaled image's pixels, None without a box head)."""
        scaled = [resize(im, scale) for im in images]
        sizes = [(int(im.shape[0]), int(im.shape[1])) for im in scaled]
        results: list[tuple[np.ndarray, np.ndarray, list[Box] | None]] = [
            (np.empty(0), np.empty(0), None)] * len(images)
        # Mirroring maps cells onto cells only when the net pads nothing itself: pad to a
        # multiple of the feature stride (2 x the output stride covers every preset).
        multiple = 2 * self.stride if self.config.flip else 1
        for group in group_by_size(sizes, self.config.max_pad_ratio):
            batch = pad_batch([scaled[g] for g in group], self.device, self.dtype, multiple)
            out = self.pose.module(batch)  # (B, J+1, h, w), (B, 2C, h, w)[, (B, K, 5)]
            maps, fields = out[0], out[1]
            rows = out[2].float().cpu().numpy() if self.box_head else None
            if self.config.flip:
                maps, fields = self._add_mirrored(batch, maps, fields)
            group_sizes = [sizes[g] for g in group]
            crops = zip(crop_outputs(maps, group_sizes, self.stride),
                        crop_outputs(fields, group_sizes, self.stride), strict=True)  # fmt: skip
            for k, (g, pair) in enumerate(zip(group, crops, strict=True)):
                found = None
                if rows is not None:
                    found = [_unscale(b, scale) for b in _boxes(rows[k], sizes[g],
                                                                self.box_threshold, "box_head")]
                results[g] = (*pair, found)
        return results

    def _add_mirrored(
        self, batch: torch.Tensor, maps: torch.Tensor, fields: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The mean of the outputs of `batch` and of its mirror image, brought back."""
        mirrored = self.pose.module(batch.flip(-1))
        mirrored_maps, mirrored_fields = mirrored[0], mirrored[1]
        back_maps, back_fields = parsing.unflip_outputs(
            mirrored_maps.float().cpu().numpy(), mirrored_fields.float().cpu().numpy(),
            self.skeleton,
        )
        return ((maps.float().cpu() + torch.from_numpy(back_maps)) / 2,
                (fields.float().cpu() + torch.from_numpy(back_fields)) / 2)  # fmt: skip

    def _fuse(
        self,
        work: WorkingInput,
        passes: list[list[tuple[np.ndarray, np.ndarray]]],
        parsed_in: list[list[Box] | None],
        boxes: list[Box] | None,
        client: list[Box] | None,
    ) -> ImageMaps:
        """Each pass's outputs (one per scale) fused on the working image's grid; the first
        pass's maps hold every box that no other pass's group holds."""
        grid = map_size(int(work.image.shape[0]), int(work.image.shape[1]), self.stride)
        fused = []
        for outputs in passes:
            if len(outputs) == 1 and outputs[0][0].shape[1:] == grid:
                fused.append(outputs[0])
            else:  # Sec. IV-A: resize each scale's maps and fields back and average
                fused.append(parsing.fuse_scales(outputs, size=grid))
        others = tuple(ScaleGroup(m, f, list(group or []))
                       for (m, f), group in zip(fused[1:], parsed_in[1:], strict=True))
        return ImageMaps(*fused[0], boxes, work.frame, client, others)

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def _out(frame: Frame | None, pose: Pose, box: Box | None = None) -> Pose:
    """A working-image pose -> original pixels (with `box`, the client's, when given)."""
    if frame is None:
        return pose if box is None else replace(pose, box=box)
    return frame.pose_out(pose, box)


def _unscale(box: Box, scale: float) -> Box:
    """A box found on the image resized by `scale` -> the same box on the image itself."""
    return replace(box, x1=box.x1 / scale, y1=box.y1 / scale, x2=box.x2 / scale,
                   y2=box.y2 / scale)


def _working_size(pose: LoadedModel, configured: int | None) -> int:
    """The configured working size, else the pose manifest's `working_size`, else 848."""
    if configured is not None:
        return configured
    return int(pose.manifest.get("working_size", DEFAULT_WORKING_SIZE))


def _threshold(detector: LoadedModel | None, configured: float | None) -> float:
    """The configured threshold, else the manifest's recommended one (best F1 on validation),
    else the module's own floor (`internal.score_threshold`), else 0.3."""
    if configured is not None:
        return configured
    manifest = detector.manifest if detector is not None else {}
    if "recommended_score_threshold" in manifest:
        return float(manifest["recommended_score_threshold"])
    return float(manifest.get("internal", {}).get("score_threshold", 0.3))


def _boxes(rows: np.ndarray, size: tuple[int, ...], threshold: float,
           source: str = "detector") -> list[Box]:
    """(K, 5) detector rows [x1, y1, x2, y2, score] -> boxes clipped to the (H, W) image."""
    height, width = int(size[0]), int(size[1])
    found = []
    for x1, y1, x2, y2, score in rows.astype(np.float64):
        if not np.isfinite([x1, y1, x2, y2, score]).all() or score < threshold:
            continue
        x1, x2 = float(np.clip(x1, 0, width - 1)), float(np.clip(x2, 0, width - 1))
        y1, y2 = float(np.clip(y1, 0, height - 1)), float(np.clip(y2, 0, height - 1))
        if x2 > x1 and y2 > y1:
            found.append(Box(x1, y1, x2, y2, float(score), source))
    return found
