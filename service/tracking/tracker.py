"""Poses of each frame, in time order -> the same poses with track ids.

Each track predicts where its person is now (constant velocity of the box centre), every
track-pose pair is scored (`similarity.SIMILARITIES`), and the assignment maximising the total
similarity is taken (Hungarian method, scipy's `linear_sum_assignment`); pairs under
`min_similarity` are not the same person. An unmatched pose opens a track with the next id
(1, 2, ...: ids are never reused in one video or stream); a track unmatched for more than
`max_missed` frames ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy.optimize import linear_sum_assignment

from service.tracking.similarity import SIMILARITIES, box_of
from service.tracking.smoothing import OneEuroConfig, OneEuroFilter
from service.types import Pose

VELOCITY_MOMENTUM = 0.85  # share of the old velocity kept at each update


@dataclass(frozen=True)
class TrackerConfig:
    match: str = "oks"  # a key of SIMILARITIES
    min_similarity: float = 0.1
    max_missed: int = 30  # frames a person may go unseen and keep their id (1 s at 30 fps)
    smoothing: bool = False  # One-Euro filter on the answered keypoints
    one_euro: OneEuroConfig = field(default_factory=OneEuroConfig)


@dataclass(frozen=True)
class TrackedPose:
    track_id: int
    pose: Pose  # keypoints smoothed when the tracker smooths


@dataclass(eq=False)
class _Track:
    id: int
    keypoints: np.ndarray  # (J, 3) last seen, unsmoothed
    box: np.ndarray  # (4,) last seen
    time_s: float
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # box centre, px/s
    missed: int = 0
    hits: int = 1  # frames matched
    smoother: OneEuroFilter | None = None

    def predicted(self, time_s: float) -> tuple[np.ndarray, np.ndarray]:
        """(J, 3) keypoints and (4,) box moved to `time_s` at the track's velocity."""
        shift = self.velocity * (time_s - self.time_s)
        keypoints = self.keypoints.copy()
        keypoints[:, :2] += shift
        return keypoints, self.box + np.tile(shift, 2)

    def update(self, keypoints: np.ndarray, box: np.ndarray, time_s: float) -> None:
        dt = time_s - self.time_s
        if dt > 0:
            moved = (box[:2] + box[2:] - self.box[:2] - self.box[2:]) / 2 / dt
            keep = VELOCITY_MOMENTUM if self.hits > 1 else 0.0  # a first step sets it whole
            self.velocity = keep * self.velocity + (1 - keep) * moved
        self.keypoints, self.box, self.time_s, self.missed = keypoints, box, time_s, 0
        self.hits += 1


class Tracker:
    """One per video or stream; `update` once per processed frame, in time order."""

    def __init__(self, sigmas: np.ndarray, config: TrackerConfig | None = None) -> None:
        self.sigmas = np.asarray(sigmas, dtype=np.float64)  # (J,) the skeleton's OKS sigmas
        self.config = config or TrackerConfig()
        if self.config.match not in SIMILARITIES:
            raise ValueError(f"unknown track match {self.config.match!r}")
        self._tracks: list[_Track] = []
        self._next_id = 1

    @property
    def ids_issued(self) -> int:
        return self._next_id - 1

    def update(self, poses: list[Pose], time_s: float) -> list[TrackedPose]:
        """This frame's poses -> the same poses, in order, each with its track id."""
        boxes = [box_of(p) for p in poses]
        pairs = self._assign(poses, boxes, time_s)
        out: list[TrackedPose] = []
        for i, pose in enumerate(poses):
            track = pairs.get(i)
            if track is None:
                track = _Track(self._next_id, pose.keypoints.copy(), boxes[i], time_s,
                               smoother=self._smoother())  # fmt: skip
                self._next_id += 1
                self._tracks.append(track)
            else:
                track.update(pose.keypoints.copy(), boxes[i], time_s)
            out.append(TrackedPose(track.id, self._smoothed(track, pose, time_s)))
        matched = {id(t) for t in pairs.values()}
        for track in self._tracks:
            if id(track) not in matched and track.time_s != time_s:
                track.missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= self.config.max_missed]
        return out

    def _assign(self, poses: list[Pose], boxes: list[np.ndarray],
                time_s: float) -> dict[int, _Track]:  # fmt: skip
        """Pose index -> its track, by the optimal assignment over similarities."""
        if not poses or not self._tracks:
            return {}
        predicted = [t.predicted(time_s) for t in self._tracks]
        kp_t = np.stack([kp for kp, _ in predicted])  # (T, J, 3)
        box_t = np.stack([b for _, b in predicted])  # (T, 4)
        kp_p = np.stack([p.keypoints for p in poses])  # (P, J, 3)
        similarity = SIMILARITIES[self.config.match](kp_t, box_t, kp_p, np.stack(boxes),
                                                     self.sigmas)  # (T, P)  # fmt: skip
        rows, cols = linear_sum_assignment(similarity, maximize=True)
        return {int(c): self._tracks[r] for r, c in zip(rows, cols, strict=True)
                if similarity[r, c] >= self.config.min_similarity}  # fmt: skip

    def _smoother(self) -> OneEuroFilter | None:
        return OneEuroFilter(self.config.one_euro) if self.config.smoothing else None

    def _smoothed(self, track: _Track, pose: Pose, time_s: float) -> Pose:
        if track.smoother is None:
            return pose
        keypoints = pose.keypoints.copy()
        found = keypoints[:, 2:3] > 0  # (J, 1)
        keypoints[:, :2] = track.smoother(keypoints[:, :2], time_s, found)
        return replace(pose, keypoints=keypoints)
