"""Person boxes + the working image -> the scale the bottom-up pose net runs at.

A bottom-up net finds joints and limbs well only for people of about the size it was trained
on: pose-real learnt on 256-px mosaics whose people are at most ~190 px, while half the people
of the dev photos are taller than 240 px on an 848-px working image
(docs/working-resolution.md). A pose manifest with `person_scale` therefore asks for
- a **pose pass** at the scale that brings the median person box's long side to `person_size`
  (clipped to [`min_scale`, `max_scale`], the scaled image no longer than the working size
  unless the working image itself is smaller, and rounded to 1/8 octave so that images of
  similar people share a batch); requested scales multiply it (the multi-scale test stays
  relative to it). People of very different sizes get a pass each (`groups`): the boxes are
  split where their own scales lie more than `span_octaves` apart, at most `max_passes` groups,
  and each box is parsed in the maps of its group's pass. One median scale for all put the
  astronaut photo's close-up (a 490-px box among three 200-px false boxes) at 2.4x the size
  the net knows, and its shoulders on her face;
- for a box-head model without a detector, a **box pass** first: the head's boxes found on the
  working image resized to each of `box_long_side` (one size or several: the training canvas,
  and larger for small people), merged by non-maximum suppression (`merge_boxes`), which then
  choose the pose pass's scale.
Images without boxes run at the requested scales as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from service.runtime.manifest import PersonScaleSpec
from service.types import Box

STEPS_PER_OCTAVE = 8  # scales are rounded to 2 ** (k / 8)


@dataclass(frozen=True)
class PersonScale:
    person_size: float  # px: a person box's long side at the pose net's input
    box_long_side: tuple[int, ...]  # px: long sides of the images the box head sees (): none
    min_scale: float = 0.25
    max_scale: float = 2.0
    span_octaves: float = 1.0  # boxes whose scales lie within this many octaves share a pass
    max_passes: int = 3  # pose passes per image at most (closest groups merged beyond it)

    @classmethod
    def from_spec(cls, spec: PersonScaleSpec | None) -> PersonScale | None:
        """A manifest's `person_scale` block, or None when it has none."""
        if spec is None:
            return None
        return cls(spec.person_size, spec.box_long_side, spec.min_scale, spec.max_scale,
                   spec.span_octaves, spec.max_passes)

    def pose_scale(self, boxes: Sequence[Box], image_shape: tuple[int, int],
                   working_size: int) -> float | None:
        """Working-image boxes of one (h, w) working image -> the pose pass's scale, None
        without boxes."""
        if not boxes:
            return None
        raw = self.person_size / max(float(np.median([_long_side(b) for b in boxes])), 1.0)
        ceiling = self._ceiling(image_shape, working_size)
        return min(_octave_round(float(np.clip(raw, self.min_scale, ceiling))), ceiling)

    def groups(self, boxes: Sequence[Box], image_shape: tuple[int, int],
               working_size: int) -> list[tuple[float, list[Box]]]:
        """Working-image boxes -> (pose-pass scale, the boxes parsed in its maps) per pass,
        most boxes first: boxes sorted by their own (clipped) scale are cut where the next
        one lies more than `span_octaves` above the group's first; beyond `max_passes` groups
        the two whose median scales are closest merge. [] without boxes."""
        if not boxes:
            return []
        ceiling = self._ceiling(image_shape, working_size)
        octave = {id(b): float(np.log2(np.clip(self.person_size / max(_long_side(b), 1.0),
                                               self.min_scale, ceiling))) for b in boxes}
        ordered = sorted(boxes, key=lambda b: octave[id(b)])
        cuts: list[list[Box]] = [[ordered[0]]]
        for b in ordered[1:]:
            if octave[id(b)] - octave[id(cuts[-1][0])] > self.span_octaves:
                cuts.append([b])
            else:
                cuts[-1].append(b)
        while len(cuts) > max(1, self.max_passes):
            centre = [float(np.median([octave[id(b)] for b in g])) for g in cuts]
            k = int(np.argmin(np.diff(centre)))
            cuts[k:k + 2] = [cuts[k] + cuts[k + 1]]
        by_scale: dict[float, list[Box]] = {}
        for group in cuts:  # groups that round to one scale share its pass
            scale = self.pose_scale(group, image_shape, working_size)
            assert scale is not None
            by_scale.setdefault(scale, []).extend(group)
        return sorted(by_scale.items(), key=lambda item: -len(item[1]))

    def _ceiling(self, image_shape: tuple[int, int], working_size: int) -> float:
        """The largest pose-pass scale: max_scale, and no larger than the working size unless
        the working image itself is smaller."""
        if working_size <= 0:
            return self.max_scale
        return min(self.max_scale, max(1.0, working_size / max(image_shape)))

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


def _long_side(box: Box) -> float:
    return max(box.x2 - box.x1, box.y2 - box.y1)


def _octave_round(scale: float) -> float:
    """The nearest 2 ** (k / STEPS_PER_OCTAVE)."""
    return float(2.0 ** (round(np.log2(scale) * STEPS_PER_OCTAVE) / STEPS_PER_OCTAVE))


def scaled(requested: tuple[float, ...], base: float | None) -> tuple[float, ...]:
    """Requested scales relative to the person scale `base` (None: as requested)."""
    if base is None:
        return requested
    return tuple(round(base * s, 6) for s in requested)
