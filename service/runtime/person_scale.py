"""Person boxes + the working image -> the scale the bottom-up pose net runs at.

A bottom-up net finds joints and limbs well only for people of about the size it was trained
on: pose-real learnt on 256-px mosaics whose people are at most ~190 px, while half the people
of the dev photos are taller than 240 px on an 848-px working image
(docs/working-resolution.md). A pose manifest with `person_scale` therefore asks for
- a **pose pass** at the scale that brings the median person box's long side to `person_size`
  (clipped to [`min_scale`, `max_scale`], the scaled image no longer than the working size
  unless the working image itself is smaller, and rounded to 1/8 octave so that images of
  similar people share a batch); requested scales multiply it (the multi-scale test stays
  relative to it);
- for a box-head model without a detector, a **box pass** first: the head's boxes found on the
  working image resized to each of `box_long_side` (one size or several: the training canvas,
  and larger for small people), merged by non-maximum suppression (`merge_boxes`), which then
  choose the pose pass's scale.
Images without boxes run at the requested scales as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from service.types import Box

STEPS_PER_OCTAVE = 8  # scales are rounded to 2 ** (k / 8)


@dataclass(frozen=True)
class PersonScale:
    person_size: float  # px: a person box's long side at the pose net's input
    box_long_side: tuple[int, ...]  # px: long sides of the images the box head sees (): none
    min_scale: float = 0.25
    max_scale: float = 2.0

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> PersonScale | None:
        """The manifest's `person_scale` block, or None when it has none."""
        block = manifest.get("person_scale")
        if not block:
            return None
        sides = block.get("box_long_side", ())
        sides = (sides,) if isinstance(sides, int | float) else sides
        return cls(float(block["person_size"]), tuple(int(s) for s in sides),
                   float(block.get("min_scale", 0.25)), float(block.get("max_scale", 2.0)))

    def pose_scale(self, boxes: Sequence[Box], image_shape: tuple[int, int],
                   working_size: int) -> float | None:
        """Working-image boxes of one (h, w) working image -> the pose pass's scale, None
        without boxes."""
        if not boxes:
            return None
        sides = [max(b.x2 - b.x1, b.y2 - b.y1) for b in boxes]
        raw = self.person_size / max(float(np.median(sides)), 1.0)
        long_side = max(image_shape)
        ceiling = self.max_scale if working_size <= 0 else min(
            self.max_scale, max(1.0, working_size / long_side))
        return min(_octave_round(float(np.clip(raw, self.min_scale, ceiling))), ceiling)

    def box_scales(self, image_shape: tuple[int, int]) -> tuple[float, ...]:
        """(h, w) working image -> the box pass's scales ((1,) when there is no box pass)."""
        if not self.box_long_side:
            return (1.0,)
        return tuple(side / max(image_shape) for side in self.box_long_side)


def merge_boxes(boxes: list[Box], iou_threshold: float = 0.5) -> list[Box]:
    """Boxes found at several scales -> the highest-scoring of each group overlapping by more
    than `iou_threshold` (OpenCV's NMS), best first."""
    if len(boxes) < 2:
        return list(boxes)
    import cv2

    xywh = [[b.x1, b.y1, b.x2 - b.x1, b.y2 - b.y1] for b in boxes]
    keep = cv2.dnn.NMSBoxes(xywh, [b.score for b in boxes], 0.0, iou_threshold)
    return [boxes[int(i)] for i in np.asarray(keep).reshape(-1)]


def _octave_round(scale: float) -> float:
    """The nearest 2 ** (k / STEPS_PER_OCTAVE)."""
    return float(2.0 ** (round(np.log2(scale) * STEPS_PER_OCTAVE) / STEPS_PER_OCTAVE))


def scaled(requested: tuple[float, ...], base: float | None) -> tuple[float, ...]:
    """Requested scales relative to the person scale `base` (None: as requested)."""
    if base is None:
        return requested
    return tuple(round(base * s, 6) for s in requested)
