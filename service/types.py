"""Named results that cross module boundaries: boxes and poses, in image pixels."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np


class BoxSource(StrEnum):
    """Where a person box came from; its value is what the JSON answer's `box_source` says."""

    CLIENT = "client"  # sent with the request: answered one to one, in order
    DETECTOR = "detector"  # a separate person detector
    BOX_HEAD = "box_head"  # the pose model's own box head
    GREEDY = "greedy"  # around a first greedy grouping of the maps (no detector)
    TRACK = "track"  # where a tracked person of the previous frame is now (video and streams)
    IMAGE = "image"  # the whole image (a top-down model without a detector)
    GROUND_TRUTH = "ground_truth"  # an annotation's box (evaluation, validation)
    DAMAGED = "damaged"  # a ground-truth box shifted on purpose (evaluation/damage.py)

    @property
    def from_a_model(self) -> bool:
        """A detector's or box head's guess, which may miss people (so may be supplemented)."""
        return self in (BoxSource.DETECTOR, BoxSource.BOX_HEAD)


@dataclass(frozen=True)
class Box:
    """An axis-aligned person box in image pixels, x2 > x1 and y2 > y1."""

    x1: float
    y1: float
    x2: float
    y2: float
    score: float = 1.0
    source: BoxSource = BoxSource.CLIENT
    # The joints the box's model regressed for its person (a box head that points from the
    # person's centre to each joint, as MoveNet's): (J, 2) in box units, (0, 0) the top-left
    # corner and (1, 1) the bottom-right (they may lie outside), so the box can be scaled and
    # moved without them; None for every other box. Not part of the box's identity.
    joints: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        # a plain string ("client", ...) is accepted and checked against BoxSource
        object.__setattr__(self, "source", BoxSource(self.source))

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    def as_list(self) -> list[float]:
        return [self.x1, self.y1, self.x2, self.y2]

    def joint_points(self) -> np.ndarray | None:
        """`joints` in the box's pixels, (J, 2); None without them."""
        if self.joints is None:
            return None
        return np.asarray([self.x1, self.y1]) + self.joints * [self.width, self.height]

    def extended(self, fraction: float) -> Box:
        """The box grown by `fraction` of its width and height (half on each side)."""
        dx, dy = self.width * fraction / 2, self.height * fraction / 2
        return Box(self.x1 - dx, self.y1 - dy, self.x2 + dx, self.y2 + dy, self.score, self.source)

    def contains(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2) points -> (N,) bool, inside or on the border."""
        x, y = xy[..., 0], xy[..., 1]
        return (x >= self.x1) & (x <= self.x2) & (y >= self.y1) & (y <= self.y2)


def boxes_contain(boxes: list[Box], xy: np.ndarray) -> np.ndarray:
    """(N, 2) points -> (B, N) bool: `Box.contains` of every box at once."""
    bounds = np.array([box.as_list() for box in boxes], dtype=np.float64).reshape(-1, 4)
    x, y = xy[None, :, 0], xy[None, :, 1]
    return ((x >= bounds[:, 0, None]) & (x <= bounds[:, 2, None]) & (y >= bounds[:, 1, None])
            & (y <= bounds[:, 3, None]))  # fmt: skip


@dataclass
class Pose:
    """One person: keypoints (J, 3) as (x, y, score) in image pixels, score 0 = joint not found."""

    keypoints: np.ndarray  # (J, 3)
    score: float
    box: Box | None = None
    # Candidate id per joint (-1 = none): which peak each joint uses, for NMS and completion.
    candidate_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    limb_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def visible(self) -> np.ndarray:
        return self.keypoints[:, 2] > 0

    @property
    def num_visible(self) -> int:
        return int(self.visible.sum())
