"""Working images -> person boxes, for every model kind: the one box-source stage.

Each image's boxes come from the first source that has them:
1. the client's boxes (`BoxSource.CLIENT`), answered one to one;
2. a separate detector (`DETECTOR`): its rows above the threshold, all images of one size group
   in one padded batch; rotated crops for a top-down model when it gives BlazePose's keypoints;
3. the pose model's own box head (`BOX_HEAD`, bottom-up only): its rows from the pose pass, or
   from a box pass of their own at the person scale's sizes (`box_pass`);
4. none found before parsing: a bottom-up model parses around a first greedy grouping of its
   maps (`GREEDY`, service.parsing.parse), a top-down one takes the whole image (`IMAGE`).
A bottom-up parser may then supplement detector and box-head boxes with greedy ones
(`ParserConfig.supplement_detector_boxes`, `BoxSource.from_a_model`); client boxes never are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch

from service.runtime.model_store import LoadedModel
from service.runtime.outputs import DetectorRows
from service.runtime.padding import group_by_size, pad_batch
from service.runtime.person_scale import PersonScale, merge_boxes
from service.runtime.working import WorkingInput
from service.types import Box, BoxSource

# images at one scale -> per image the box head's boxes (unscaled image pixels), None without
HeadForward = Callable[[list[np.ndarray], float], list[list[Box] | None]]


@dataclass(frozen=True)
class FoundBoxes:
    """One working image's person boxes, with a crop rotation per box (radians; 0 unless a
    detector gave BlazePose's alignment keypoints)."""

    boxes: list[Box]
    angles: tuple[float, ...]

    @classmethod
    def upright(cls, boxes: list[Box]) -> FoundBoxes:
        return cls(boxes, (0.0,) * len(boxes))


class BoxStage:
    """Client boxes, else a detector's, on the working images (sources 1 and 2 above)."""

    def __init__(self, detector: LoadedModel | None, threshold: float, device: torch.device,
                 dtype: torch.dtype, max_pad_ratio: float, *, clip: bool,
                 aligned: bool) -> None:  # fmt: skip
        """clip: detector boxes clipped to the image (a top-down model keeps body regions
        reaching past it); aligned: ask the detector for its alignment keypoints."""
        self.detector, self.threshold = detector, threshold
        self.device, self.dtype, self.max_pad_ratio = device, dtype, max_pad_ratio
        self.clip = clip
        self.aligned = aligned and detector is not None and detector.manifest.aligned

    def find(self, work: list[WorkingInput]) -> list[FoundBoxes | None]:
        """Per image: the client's boxes, else the detector's; None without either."""
        found = [FoundBoxes.upright(w.boxes) if w.boxes is not None else None for w in work]
        todo = [i for i, w in enumerate(work) if w.boxes is None]
        if self.detector is None or not todo:
            return found
        sizes = [(int(work[i].image.shape[0]), int(work[i].image.shape[1])) for i in todo]
        for group in group_by_size(sizes, self.max_pad_ratio):  # one padded batch each
            detected = self._detect([work[todo[g]].image for g in group])
            for g, image_boxes in zip(group, detected, strict=True):
                found[todo[g]] = image_boxes
        return found

    @torch.inference_mode()
    def _detect(self, images: list[np.ndarray]) -> list[FoundBoxes]:
        """(H, W, 3) images of one size group -> per image the boxes above the threshold."""
        assert self.detector is not None
        batch = pad_batch(images, self.device, self.dtype)
        module = self.detector.module
        out = module.detect(batch) if self.aligned else module(batch)  # (B, K, 13 or 5)
        rows = out.float().cpu().numpy()
        return [self._boxes(DetectorRows.of(rows[b]), images[b].shape[:2])
                for b in range(len(images))]  # fmt: skip

    def _boxes(self, rows: DetectorRows, size: tuple[int, ...]) -> FoundBoxes:
        if self.clip:
            return FoundBoxes.upright(row_boxes(rows, size, self.threshold, BoxSource.DETECTOR))
        kept = rows.select(rows.valid(self.threshold))
        boxes = [Box(float(x1), float(y1), float(x2), float(y2), float(score),
                     BoxSource.DETECTOR)
                 for (x1, y1, x2, y2), score in zip(kept.corners, kept.scores, strict=True)]
        return FoundBoxes(boxes, tuple(float(a) for a in kept.angles()))


def row_boxes(rows: DetectorRows, size: tuple[int, ...], threshold: float,
              source: BoxSource) -> list[Box]:  # fmt: skip
    """Rows -> boxes scoring >= threshold, clipped to the (H, W) image, empty ones dropped."""
    return [box for _, box in _kept_rows(rows, size, threshold, source)]


def _kept_rows(rows: DetectorRows, size: tuple[int, ...], threshold: float,
               source: BoxSource) -> list[tuple[int, Box]]:  # fmt: skip
    """`row_boxes`, each with the index of its row."""
    height, width = int(size[0]), int(size[1])
    found = []
    for k, ((x1, y1, x2, y2), score) in enumerate(zip(rows.corners, rows.scores, strict=True)):
        if not np.isfinite([x1, y1, x2, y2, score]).all() or score < threshold:
            continue
        x1, x2 = float(np.clip(x1, 0, width - 1)), float(np.clip(x2, 0, width - 1))
        y1, y2 = float(np.clip(y1, 0, height - 1)), float(np.clip(y2, 0, height - 1))
        if x2 > x1 and y2 > y1:
            found.append((k, Box(x1, y1, x2, y2, float(score), source)))
    return found


def head_boxes(rows: np.ndarray, size: tuple[int, ...], threshold: float,
               scale: float) -> list[Box]:  # fmt: skip
    """(K, 5) box-head rows on the image resized by `scale` (of size (H, W)) -> boxes on the
    image itself. Rows of 5 + 2 J columns go on with the J joints the box head regressed for
    each box, x and y in the same pixels: the boxes carry them (`Box.joints`)."""
    rows = np.asarray(rows, dtype=np.float64)
    joints = rows[:, 5:].reshape(len(rows), -1, 2) if rows.shape[1] > 5 else None  # (K, J, 2)
    found = []
    for k, box in _kept_rows(DetectorRows.of(rows[:, :5]), size, threshold, BoxSource.BOX_HEAD):
        if joints is not None and np.isfinite(joints[k]).all():
            units = (joints[k] - [box.x1, box.y1]) / [box.width, box.height]  # scale-free
            box = replace(box, joints=units)
        found.append(replace(box, x1=box.x1 / scale, y1=box.y1 / scale, x2=box.x2 / scale,
                             y2=box.y2 / scale))  # fmt: skip
    return found


def box_pass(work: list[WorkingInput], found: list[FoundBoxes | None],
             person_scale: PersonScale, forward: HeadForward) -> list[FoundBoxes | None]:
    """The box head's boxes (working pixels) for images without any, found on the working
    image resized to each of the person scale's box-pass sizes and merged."""
    gathered: dict[int, list[Box]] = {i: [] for i, f in enumerate(found) if f is None}
    by_scale: dict[float, list[int]] = {}
    for i in gathered:
        for scale in person_scale.box_scales(work[i].image.shape[:2]):
            by_scale.setdefault(scale, []).append(i)
    for scale, members in by_scale.items():
        for i, boxes in zip(members, forward([work[i].image for i in members], scale),
                            strict=True):  # fmt: skip
            gathered[i] += boxes or []
    several = len(person_scale.box_long_side) > 1
    out = list(found)
    for i, boxes in gathered.items():
        out[i] = FoundBoxes.upright(merge_boxes(boxes) if several else boxes)
    return out


def or_whole_image(found: list[FoundBoxes | None], work: list[WorkingInput]) -> list[FoundBoxes]:
    """Images without boxes -> one box around the whole working image (a top-down model)."""
    return [f if f is not None else FoundBoxes.upright([whole(w.image)])
            for f, w in zip(found, work, strict=True)]  # fmt: skip


def whole(image: np.ndarray) -> Box:
    """(H, W, 3) -> the box [0, 0, W, H]."""
    return Box(0.0, 0.0, float(image.shape[1]), float(image.shape[0]), 1.0, BoxSource.IMAGE)


def boxes_of(found: list[FoundBoxes | None]) -> list[list[Box] | None]:
    return [f.boxes if f is not None else None for f in found]
