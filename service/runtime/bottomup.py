"""Images (+ optional person boxes) -> poses with a bottom-up model (manifest kind `pose`):
person boxes (box_source.py), the pose net at several scales (posenet.py), maps and fields
fused per image, then parsed in the boxes (service.parsing).

Both models run on the working image (`working.py`: long side `working_size`, never upscaled);
scales are relative to it; boxes and poses come back in the original image's pixels. Client boxes
are answered one to one, in their order (`answer_each_box`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from service import parsing
from service.parsing import ParserConfig, supplement
from service.runtime.box_source import BoxStage, FoundBoxes, box_pass, boxes_of
from service.runtime.client_boxes import ONE_PER_BOX_PARSERS, answer_each_box, shared_answers
from service.runtime.common import Models
from service.runtime.model_store import LoadedModel
from service.runtime.person_scale import PersonScale, scaled
from service.runtime.posenet import PoseNet
from service.runtime.protocol import (
    BatchOutput,
    ImageInput,
    PipelineConfig,
    PipelineResult,
    predict_one,
)
from service.runtime.working import Frame, WorkingInput, prepare
from service.targets import map_size
from service.types import Box, BoxSource, Pose

Plan = list[tuple[tuple[float, ...], list[Box] | None]]  # per pass: its scales, its boxes
PassOutputs = dict[tuple[int, int], list[tuple[np.ndarray, np.ndarray]]]  # (image, pass) ->


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
    boxes: list[Box] | None  # working-image client or found boxes; None = greedy boxes
    frame: Frame | None = None  # original <-> working pixels; None = the same
    client: list[Box] | None = None  # the client's boxes as sent (answered one to one)
    # Boxes parsed in the maps of another pose pass (person scale: people of very different
    # sizes); every other box is parsed in `maps` and `fields`.
    others: tuple[ScaleGroup, ...] = ()


class BottomupPipeline:
    """A bottom-up pose model and an optional detector on one device (a `PoseModel`)."""

    def __init__(self, pose: LoadedModel, detector: LoadedModel | None,
                 config: PipelineConfig) -> None:  # fmt: skip
        self.config = config = with_model_parser(config, pose)
        self.parts = Models.of(pose, detector, config, "pose")
        self.pose, self.detector, self.skeleton = pose, detector, self.parts.skeleton
        self.stride = pose.stride
        self.working_size = self.parts.working_size
        # A pose model with a box head answers (maps, fields, boxes) in one call: its boxes
        # serve images without client boxes when no separate detector is loaded.
        head = pose.manifest.box_head
        self.box_head = head is not None
        self.box_threshold = (config.detector_threshold if config.detector_threshold is not None
                              else head.recommended_score_threshold if head is not None
                              else 0.3)  # fmt: skip
        self.person_scale = PersonScale.from_spec(pose.manifest.person_scale) \
            if config.person_scale else None
        if self.person_scale is not None and config.max_pose_passes is not None:
            self.person_scale = replace(self.person_scale, max_passes=config.max_pose_passes)
        # With a person scale, the head's boxes come from their own small pass (person_scale.py)
        self.box_pass = self.person_scale if self.box_head and detector is None else None
        self.net = PoseNet(self.parts, config.flip, config.max_pad_ratio,
                           self.box_threshold if self.box_head else None)  # fmt: skip
        self.boxes = BoxStage(detector, self.parts.detector_threshold, self.parts.device,
                              self.parts.dtype, config.max_pad_ratio, clip=True, aligned=False)

    @property
    def models(self) -> list[LoadedModel]:
        return self.parts.loaded

    def warmup(self, height: int = 240, width: int = 320) -> None:
        """One batch through every model so the first request pays no lazy initialisation."""
        image = np.full((height, width, 3), 127, dtype=np.uint8)
        self.parse(self.forward_batch([ImageInput(image, None, self.config.scales)]).images[0])

    def forward_batch(self, inputs: list[ImageInput]) -> BatchOutput[ImageMaps]:
        """The model part of a batch: each image to its working size, its boxes (box_source),
        the pose net per pass and scale, the outputs fused per image."""
        start = time.perf_counter()
        work = [prepare(inp.image, inp.size, inp.boxes, self.working_size,
                        self.config.brighten_dark) for inp in inputs]
        boxes = boxes_of(self._find_boxes(work))
        detected = time.perf_counter()
        plans = [self._plan(w, inp.scales, bx) for w, inp, bx in zip(work, inputs, boxes,
                                                                      strict=True)]
        outs, head = self._run_passes(work, plans)
        if self.box_head and self.detector is None:
            boxes = [bx if bx is not None else found for bx, found in zip(boxes, head,
                                                                          strict=True)]
        boxes = [_with_hints(bx, w, inp, self.config.parser.track_max_iou)
                 for bx, w, inp in zip(boxes, work, inputs, strict=True)]
        images = [
            self._fuse(work[i], [outs[(i, g)] for g in range(len(plans[i]))],
                       [parsed_in for _, parsed_in in plans[i]], boxes[i], inp.boxes)
            for i, inp in enumerate(inputs)
        ]
        self.parts.sync()
        return BatchOutput(images, detected - start, time.perf_counter() - detected)

    def parse(self, item: ImageMaps) -> list[Pose]:
        """Fused maps -> poses in original pixels by Algorithm 1 in the boxes (greedy boxes when
        boxes is None); client boxes answered one to one, in order."""
        poses = self._parse_boxes(item, item.boxes, self.config.parser)
        honours_boxes = self.config.parser_name in ONE_PER_BOX_PARSERS
        if item.client is not None and item.boxes is not None and honours_boxes:
            keep_all = replace(self.config.parser, use_nms=False)  # without ownership only
            reparse = (shared_answers(poses) if self.config.parser.joint_ownership
                       else lambda rest: self._parse_boxes(item, rest, keep_all))  # fmt: skip
            poses = answer_each_box(poses, item.boxes, self.skeleton.num_joints, reparse)
            return [_out(item.frame, p, b) for p, b in zip(poses, item.client, strict=True)]
        return [_out(item.frame, p) for p in poses]

    def predict(self, image_rgb: np.ndarray, boxes: list[Box] | None = None,
                scales: tuple[float, ...] | None = None, size: tuple[int, int] | None = None,
                hints: list[Box] | None = None) -> PipelineResult:  # fmt: skip
        """One image, no server (protocol.predict_one)."""
        return predict_one(self, image_rgb, boxes, scales or self.config.scales, size, hints)

    def detect_missing(self, inputs: list[ImageInput]) -> list[list[Box] | None]:
        """Client boxes as given; detector boxes (found on the working image, in original
        pixels) for the others, or the pose model's own box-head boxes when it has a head and
        no detector is loaded (every box above the threshold, before parsing); None without
        either."""
        work = [prepare(inp.image, inp.size, inp.boxes, self.working_size,
                        self.config.brighten_dark) for inp in inputs]
        found = self._find_boxes(work)
        if self.box_pass is None and self.box_head and self.detector is None:
            found = [f if f is not None else
                     FoundBoxes.upright(self.net.forward_scale([w.image], 1.0)[0][2] or [])
                     for w, f in zip(work, found, strict=True)]  # fmt: skip
        return [inp.boxes if inp.boxes is not None or f is None
                else [w.frame.box_out(b) for b in f.boxes]
                for inp, w, f in zip(inputs, work, found, strict=True)]  # fmt: skip

    def _find_boxes(self, work: list[WorkingInput]) -> list[FoundBoxes | None]:
        """Working-image boxes: the client's, else the detector's, else the box pass's."""
        found = self.boxes.find(work)
        if self.box_pass is not None:
            found = box_pass(work, found, self.box_pass, self.net.head_forward)
        return found

    def _parse_boxes(self, item: ImageMaps, boxes: list[Box] | None,
                     config: ParserConfig) -> list[Pose]:  # fmt: skip
        """Working-image poses of `boxes`, each parsed in the maps of its own pass."""
        if boxes is None or not item.others:
            return self._parse_in(item.maps, item.fields, boxes, config)
        poses: list[Pose] = []
        elsewhere: set[int] = set()
        for group in item.others:  # each box in the maps of its own pass
            mine = {id(b) for b in group.boxes}
            elsewhere |= mine
            if chosen := [b for b in boxes if id(b) in mine]:
                poses += self._parse_in(group.maps, group.fields, chosen, config)
        if rest := [b for b in boxes if id(b) not in elsewhere]:
            poses += self._parse_in(item.maps, item.fields, rest, config)
        return poses

    def _parse_in(self, maps: np.ndarray, fields: np.ndarray, boxes: list[Box] | None,
                  config: ParserConfig) -> list[Pose]:  # fmt: skip
        return parsing.parse(self.config.parser_name, maps, fields, self.skeleton, self.stride,
                             boxes, config)  # fmt: skip

    def _plan(self, work: WorkingInput, requested: tuple[float, ...],
              boxes: list[Box] | None) -> Plan:  # fmt: skip
        """One image's pose passes: (the scales each runs at, the boxes parsed in its maps).
        One pass at the requested scales, unless the manifest asks for a person scale and the
        image has boxes: then a pass per group of similar-sized people, its scales relative to
        the group's person scale."""
        if self.person_scale is None or not boxes:
            return [(requested, boxes)]
        shape = (int(work.image.shape[0]), int(work.image.shape[1]))
        return [(scaled(requested, base), members) for base, members in
                self.person_scale.groups(boxes, shape, self.working_size)]

    def _run_passes(self, work: list[WorkingInput],
                    plans: list[Plan]) -> tuple[PassOutputs, list[list[Box]]]:  # fmt: skip
        """Every pass of every image, all images at one set of scales together -> outputs per
        (image, pass), and per image the box head's boxes of the scale nearest 1."""
        passes = [(i, g) for i, plan in enumerate(plans) for g in range(len(plan))]
        outs: PassOutputs = {p: [] for p in passes}
        head: list[tuple[float, list[Box]]] = [(np.inf, []) for _ in work]
        for scales in sorted({plans[i][g][0] for i, g in passes}):
            members = [(i, g) for i, g in passes if plans[i][g][0] == scales]
            for scale in scales:
                outputs = self.net.forward_scale([work[i].image for i, _ in members], scale)
                for (i, g), (maps, fields, found) in zip(members, outputs, strict=True):
                    outs[(i, g)].append((maps, fields))
                    if found is not None and abs(np.log(scale)) < head[i][0]:
                        head[i] = (abs(np.log(scale)), found)  # the scale nearest 1 wins
        return outs, [found for _, found in head]

    def _fuse(self, work: WorkingInput, passes: list[list[tuple[np.ndarray, np.ndarray]]],
              parsed_in: list[list[Box] | None], boxes: list[Box] | None,
              client: list[Box] | None) -> ImageMaps:  # fmt: skip
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


def with_model_parser(config: PipelineConfig, pose: LoadedModel) -> PipelineConfig:
    """The parser settings the configuration leaves unset (None) taken from the pose model's
    manifest (`parser`)."""
    spec = pose.manifest.parser
    unset = {name: getattr(spec, name) for name in type(spec).model_fields
             if getattr(spec, name) is not None and getattr(config.parser, name) is None}
    return replace(config, parser=replace(config.parser, **unset)) if unset else config


def _with_hints(boxes: list[Box] | None, work: WorkingInput, inp: ImageInput,
                max_iou: float) -> list[Box] | None:  # fmt: skip
    """An image's working-image boxes with its track boxes (never with client boxes). Without
    found boxes (greedy boxes come later, in the parser, which joins them to the track boxes)
    the track boxes alone; with a detector's or box head's, which box whole people, those first
    and the track boxes of the people they missed."""
    if not inp.hints or inp.boxes is not None:
        return boxes
    tracked = [replace(work.frame.box_in(h) if work.frame is not None else h,
                       source=BoxSource.TRACK) for h in inp.hints]  # fmt: skip
    return supplement(boxes, tracked, max_iou) if boxes else tracked


def _out(frame: Frame | None, pose: Pose, box: Box | None = None) -> Pose:
    """A working-image pose -> original pixels (with `box`, the client's, when given)."""
    if frame is None:
        return pose if box is None else replace(pose, box=box)
    return frame.pose_out(pose, box)
