"""Poses of each frame, in time order -> the same poses with track ids.

Each track predicts where its person is now (constant velocity of the box centre), every
track-pose pair is scored (`similarity.SIMILARITIES`), and the assignment maximising the total
similarity is taken (Hungarian method, scipy's `linear_sum_assignment`); pairs under
`min_similarity` are not the same person. Given the frame, a track may also match by its look
(appearance.py: the colours at its joints, learnt from clear, sure views) a pose within reach
of where it was or is heading, a reach that grows while it is lost: a person who walked behind
another keeps their id, and a fragment of someone does not take a track from its owner. An unmatched
pose opens a track with the next id (1, 2, ...: ids are never reused in one video or stream); a
track unmatched for more than `max_missed` frames ends. A track opened on top of a person already
tracked is tentative (`tentative_iou`): not answered, and given its id, only once a second frame
in a row matches it; it ends at its first miss.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy.optimize import linear_sum_assignment

from service.tracking.appearance import (
    GALLERY,
    Look,
    clear_views,
    gallery_similarity,
    lab_image,
    look,
)
from service.tracking.similarity import SIMILARITIES, box_of, iou_matrix
from service.tracking.smoothing import OneEuroConfig, OneEuroFilter
from service.types import Box, BoxSource, Pose

VELOCITY_MOMENTUM = 0.85  # share of the old velocity kept at each update
SIZE_MEMORY = 8  # a track's box for the next frame is as large as its largest of these last boxes
LEARN_FROM = 0.5  # a track learns a look only from a match at least this sure (or its first)


@dataclass(frozen=True)
class TrackerConfig:
    match: str = "oks"  # a key of SIMILARITIES
    min_similarity: float = 0.1
    max_missed: int = 30  # frames a person may go unseen and keep their id (1 s at 30 fps)
    smoothing: bool = False  # One-Euro filter on the answered keypoints
    one_euro: OneEuroConfig = field(default_factory=OneEuroConfig)
    appearance: bool = True  # lost tracks also match by their look (when frames are given)
    min_look: float = 0.4  # appearance.look_similarity a lost track needs
    # Where the track and the pose both have a look, the pair's similarity is (1 - look_weight)
    # x the motion similarity + look_weight x the looks' (then raised to the look, as above, when
    # within reach): a look that disagrees lowers a motion match. Two people crossing have
    # overlapping predicted boxes, and motion alone hands the one in front the other's id.
    look_weight: float = 0.5
    reach: float = 0.5  # how far a person may move by look: box heights, + 5% per frame lost
    # No track box for a person whose box overlaps another tracked person's by more than this
    # IoU (people crossing: each is parsed as in an image, and known again by look and motion).
    hint_max_overlap: float = 0.1
    # A pose scoring under the answer's threshold (`update`'s `weak`) is answered only as a
    # track's person that no sure pose matched, and only if its box overlaps the track's predicted
    # box by at least this IoU (ByteTrack's second association): a frame whose maps are weak
    # keeps the person, while a fragment of them (a small box) or a stray never opens a track.
    weak_min_iou: float = 0.5
    # A pose that opens a track where a person is already tracked (its box overlaps the box of a
    # track seen in the last frame by more than this IoU) is a duplicate, a fragment or a mix of
    # two overlapping people as often as a new person: its track is tentative, answered only once
    # a second frame in a row matches it (SORT's and ByteTrack's confirmation, for new tracks
    # among others only), and it ends at its first miss. None: every track is answered at once.
    tentative_iou: float | None = 0.3


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
    looks: list[Look] = field(default_factory=list)  # the last clear, confident views
    sizes: list[np.ndarray] = field(default_factory=list)  # (2,) width, height of its last boxes
    confirmed: bool = True  # False: tentative (`TrackerConfig.tentative_iou`), not answered
    # (a tentative track's id is 0 until it is confirmed)

    def __post_init__(self) -> None:
        self.remember_size()

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
        self.confirmed = True  # a tentative track matched a second frame in a row
        self.remember_size()

    def remember_size(self) -> None:
        self.sizes = [*self.sizes, self.box[2:] - self.box[:2]][-SIZE_MEMORY:]

    def hint(self, time_s: float) -> np.ndarray:
        """(4,) where the whole person should be at `time_s`: the predicted box, its top and
        horizontal centre, as large as the largest of the last boxes (a frame that found only
        part of the person does not shrink the next frame's box)."""
        _, box = self.predicted(time_s)
        width, height = np.max(np.stack(self.sizes), axis=0)
        centre = (box[0] + box[2]) / 2
        return np.array([centre - width / 2, box[1], centre + width / 2, box[1] + height])


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

    def hint_boxes(self, time_s: float, size: tuple[int, int]) -> list[Box]:
        """Boxes (source "track", clipped to the (H, W) frame) where the people seen in the
        last frame should be at `time_s` (`_Track.hint`): a bottom-up model parses these people
        in them first, so a frame whose maps are weak keeps them whole (the track's box
        propagated, as top-down trackers propagate their crops). People whose boxes overlap
        another's (`hint_max_overlap`) get none."""
        height, width = size
        seen = [t for t in self._tracks if not t.missed and t.confirmed]
        if not seen:
            return []
        hints = np.stack([t.hint(time_s) for t in seen])
        overlap = iou_matrix(hints, hints)
        np.fill_diagonal(overlap, 0.0)
        out = []
        for hint, crossing in zip(hints, overlap.max(1) > self.config.hint_max_overlap,
                                  strict=True):  # fmt: skip
            if crossing:
                continue
            x1, y1, x2, y2 = np.clip(hint, 0, [width, height, width, height])
            if x2 - x1 >= 1 and y2 - y1 >= 1:
                out.append(Box(float(x1), float(y1), float(x2), float(y2), 1.0, BoxSource.TRACK))
        return out

    def update(self, poses: list[Pose], time_s: float, image: np.ndarray | None = None,
               scale: tuple[float, float] = (1.0, 1.0), weak: list[Pose] | None = None
               ) -> list[TrackedPose]:  # fmt: skip
        """This frame's poses -> the same poses, in order, each with its track id, then those
        of `weak` (poses under the answer's score threshold) that continue a track no pose of
        `poses` matched (`weak_min_iou`); a pose whose track is tentative (`tentative_iou`) is
        left out. `image`: the (h, w, 3) uint8 RGB frame, `scale` times the poses' pixels (for
        looks)."""
        boxes = [box_of(p) for p in poses]
        looks = self._looks(poses, boxes, image, scale)
        # confirmed tracks choose first; tentative ones take what they leave (ByteTrack's order)
        seen_boxes = [t.box for t in self._tracks if t.confirmed and not t.missed]
        pairs, scores = self._assign(poses, boxes, time_s, looks,
                                     [t for t in self._tracks if t.confirmed])  # fmt: skip
        rest = [i for i in range(len(poses)) if i not in pairs]
        more, more_scores = self._assign([poses[i] for i in rest], [boxes[i] for i in rest],
                                         time_s, [looks[i] for i in rest],
                                         [t for t in self._tracks if not t.confirmed])  # fmt: skip
        pairs.update({rest[k]: track for k, track in more.items()})
        scores.update({rest[k]: score for k, score in more_scores.items()})
        rescued = self._rescue(weak or [], {id(t) for t in pairs.values()}, time_s)
        pairs.update({len(poses) + k: track for k, (_, track) in enumerate(rescued)})
        poses = [*poses, *(pose for pose, _ in rescued)]
        boxes += [box_of(pose) for pose, _ in rescued]
        looks += [None] * len(rescued)
        clear = clear_views(boxes)
        out: list[TrackedPose] = []
        for i, pose in enumerate(poses):
            track = pairs.get(i)
            if track is None:
                confirmed = not self._among_tracked(boxes[i], seen_boxes)
                track = _Track(0, pose.keypoints.copy(), boxes[i], time_s,
                               smoother=self._smoother(), confirmed=confirmed)  # fmt: skip
                self._tracks.append(track)
            else:
                track.update(pose.keypoints.copy(), boxes[i], time_s)
            if track.confirmed and not track.id:  # ids go to answered tracks only, in order
                track.id, self._next_id = self._next_id, self._next_id + 1
            seen = looks[i]
            if seen is not None and clear[i] and scores.get(i, 1.0) >= LEARN_FROM:
                track.looks = [*track.looks, seen][-GALLERY:]
            if track.confirmed:
                out.append(TrackedPose(track.id, self._smoothed(track, pose, time_s)))
        matched = {id(t) for t in pairs.values()}
        for track in self._tracks:
            if id(track) not in matched and track.time_s != time_s:
                track.missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= self.config.max_missed
                        and (t.confirmed or not t.missed)]  # fmt: skip
        return out

    def _among_tracked(self, box: np.ndarray, seen_boxes: list[np.ndarray]) -> bool:
        """Whether a new track's box overlaps a person tracked in the last frame by more than
        `tentative_iou` (then the track starts tentative)."""
        limit = self.config.tentative_iou
        if limit is None or not seen_boxes:
            return False
        return bool(iou_matrix(box[None], np.stack(seen_boxes)).max() > limit)

    def _rescue(self, weak: list[Pose], matched: set[int], time_s: float
                ) -> list[tuple[Pose, _Track]]:  # fmt: skip
        """Weak poses -> (pose, the unmatched track it continues), in the poses' order: the
        optimal assignment over box IoU with the tracks' predicted boxes, pairs under
        `weak_min_iou` dropped."""
        lost = [t for t in self._tracks if id(t) not in matched and t.confirmed]
        if not weak or not lost:
            return []
        predicted = np.stack([t.predicted(time_s)[1] for t in lost])  # (T, 4)
        iou = iou_matrix(predicted, np.stack([box_of(p) for p in weak]))  # (T, W)
        rows, cols = linear_sum_assignment(iou, maximize=True)
        return [(weak[c], lost[r]) for c, r in sorted(zip(cols, rows, strict=True))
                if iou[r, c] >= self.config.weak_min_iou]  # fmt: skip

    def _looks(self, poses: list[Pose], boxes: list[np.ndarray], image: np.ndarray | None,
               scale: tuple[float, float]) -> list[Look | None]:  # fmt: skip
        if image is None or not self.config.appearance or not poses:
            return [None] * len(poses)
        lab = lab_image(image)
        return [look(lab, p.keypoints, b, scale) for p, b in zip(poses, boxes, strict=True)]

    def _assign(
        self, poses: list[Pose], boxes: list[np.ndarray], time_s: float, looks: list[Look | None],
        tracks: list[_Track],
    ) -> tuple[dict[int, _Track], dict[int, float]]:
        """Pose index -> its track among `tracks`, by the optimal assignment over similarities;
        and -> the pair's similarity."""
        if not poses or not tracks:
            return {}, {}
        predicted = [t.predicted(time_s) for t in tracks]
        kp_t = np.stack([kp for kp, _ in predicted])  # (T, J, 3)
        box_t = np.stack([b for _, b in predicted])  # (T, 4)
        kp_p = np.stack([p.keypoints for p in poses])  # (P, J, 3)
        similarity = SIMILARITIES[self.config.match](kp_t, box_t, kp_p, np.stack(boxes),
                                                     self.sigmas)  # (T, P)  # fmt: skip
        self._known_by_look(similarity, box_t, boxes, looks, tracks)
        rows, cols = linear_sum_assignment(similarity, maximize=True)
        kept = [(int(r), int(c)) for r, c in zip(rows, cols, strict=True)
                if similarity[r, c] >= self.config.min_similarity]  # fmt: skip
        return ({c: tracks[r] for r, c in kept},
                {c: float(similarity[r, c]) for r, c in kept})  # fmt: skip

    def _known_by_look(self, similarity: np.ndarray, box_t: np.ndarray,
                       boxes: list[np.ndarray], looks: list[Look | None],
                       tracks: list[_Track]) -> None:  # fmt: skip
        """Blend (in place) each track's similarity to each pose with their looks' (`look_weight`),
        and raise it to a pose that looks like it and stands within reach of where it was last
        seen or is predicted."""
        for t, track in enumerate(tracks):
            if not track.looks:
                continue
            for p, seen in enumerate(looks):
                if seen is None:
                    continue
                height = boxes[p][3] - boxes[p][1]
                reach = height * self.config.reach * (1 + 0.1 * track.missed)
                centre = (boxes[p][:2] + boxes[p][2:]) / 2
                near = min(np.linalg.norm(centre - (b[:2] + b[2:]) / 2)
                           for b in (box_t[t], track.box))  # fmt: skip
                score = gallery_similarity(track.looks, seen)
                weight = self.config.look_weight
                similarity[t, p] = (1 - weight) * similarity[t, p] + weight * score
                if near <= reach and score >= self.config.min_look:
                    similarity[t, p] = max(similarity[t, p], score)

    def _smoother(self) -> OneEuroFilter | None:
        return OneEuroFilter(self.config.one_euro) if self.config.smoothing else None

    def _smoothed(self, track: _Track, pose: Pose, time_s: float) -> Pose:
        if track.smoother is None:
            return pose
        keypoints = pose.keypoints.copy()
        found = keypoints[:, 2:3] > 0  # (J, 1)
        keypoints[:, :2] = track.smoother(keypoints[:, :2], time_s, found)
        return replace(pose, keypoints=keypoints)
