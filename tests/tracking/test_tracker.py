"""The tracker on generated clips of known identities, scored with py-motmetrics (IDF1 and
identity switches), and its unit contracts: ids, missed frames, smoothing."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clips import Clip, crossing_clip  # noqa: E402

from service.skeleton import AIC14  # noqa: E402
from service.tracking.similarity import box_of, iou_matrix  # noqa: E402
from service.tracking.tracker import Tracker, TrackerConfig  # noqa: E402
from service.types import BoxSource, Pose  # noqa: E402

mm = pytest.importorskip("motmetrics", reason="py-motmetrics scores the tracks (dev extra)")


def _distances(truth: list[np.ndarray], found: list[np.ndarray]) -> np.ndarray:
    """1 - IoU, NaN (no match) under IoU 0.5: motmetrics' `iou_matrix` convention (its own
    calls np.asfarray, gone in NumPy 2)."""
    if not truth or not found:
        return np.empty((len(truth), len(found)))
    iou = iou_matrix(np.stack(truth), np.stack(found))
    return np.where(iou >= 0.5, 1 - iou, np.nan)


def score(clip: Clip, config: TrackerConfig) -> tuple[float, int]:
    """IDF1 and identity switches of the tracker on `clip` (boxes matched at IoU >= 0.5)."""
    tracker = Tracker(AIC14.sigmas_array, config)
    acc = mm.MOTAccumulator(auto_id=True)
    for f, (truth, seen) in enumerate(zip(clip.truth, clip.seen, strict=True)):
        tracked = tracker.update([s.pose for s in seen], f / clip.fps)
        distances = _distances([b for _, b in truth], [box_of(t.pose) for t in tracked])
        acc.update([i for i, _ in truth], [t.track_id for t in tracked], distances)
    summary = mm.metrics.create().compute(acc, metrics=["idf1", "num_switches"])
    return float(summary["idf1"].iloc[0]), int(summary["num_switches"].iloc[0])


@pytest.mark.parametrize("match", ["oks", "iou"])
@pytest.mark.parametrize("seed", range(8))
def test_crossing_paths_keep_their_ids(match: str, seed: int) -> None:
    clip = crossing_clip(frames=200, people=4, seed=seed)
    idf1, switches = score(clip, TrackerConfig(match=match))
    assert idf1 >= 0.9, (match, seed, idf1)
    assert switches <= 2, (match, seed, switches)  # at most 1 per 100 frames


def test_smoothing_keeps_ids_and_reduces_jitter() -> None:
    clip = crossing_clip(frames=200, people=4, seed=3, miss_rate=0.0, noise_px=4.0)
    idf1, switches = score(clip, TrackerConfig(smoothing=True))
    assert idf1 >= 0.9 and switches <= 2
    still = _pose(100.0)
    rng = np.random.default_rng(0)
    tracker = Tracker(AIC14.sigmas_array, TrackerConfig(smoothing=True))
    raw, smooth = [], []
    for f in range(50):
        noisy = still.keypoints.copy()
        noisy[:, :2] += rng.normal(0, 3, size=noisy[:, :2].shape)
        out = tracker.update([Pose(noisy, 1.0)], f / 25)
        raw.append(noisy[:, :2])
        smooth.append(out[0].pose.keypoints[:, :2])
    assert np.std(smooth[10:], axis=0).mean() < 0.6 * np.std(raw[10:], axis=0).mean()


def _pose(x: float, y: float = 100.0) -> Pose:
    kp = np.ones((AIC14.num_joints, 3))
    kp[:, 0] = x + np.linspace(-20, 20, AIC14.num_joints)
    kp[:, 1] = y + np.linspace(0, 160, AIC14.num_joints)
    return Pose(kp, 1.0)


def test_ids_are_small_and_kept_through_missed_frames() -> None:
    tracker = Tracker(AIC14.sigmas_array, TrackerConfig(max_missed=3))
    first = tracker.update([_pose(100), _pose(500)], 0.0)
    assert [t.track_id for t in first] == [1, 2]
    for f in range(1, 4):  # person 1 unseen for 3 frames
        assert [t.track_id for t in tracker.update([_pose(500)], f / 25)] == [2]
    back = tracker.update([_pose(500), _pose(100)], 4 / 25)
    assert [t.track_id for t in back] == [2, 1]
    for f in range(5, 10):  # gone longer than max_missed: a new id next time
        tracker.update([_pose(500)], f / 25)
    assert [t.track_id for t in tracker.update([_pose(100)], 10 / 25)] == [3]
    assert tracker.ids_issued == 3


def test_no_poses_and_unknown_match() -> None:
    tracker = Tracker(AIC14.sigmas_array)
    assert tracker.update([], 0.0) == []
    with pytest.raises(ValueError, match="unknown track match"):
        Tracker(AIC14.sigmas_array, TrackerConfig(match="nope"))


def test_hint_boxes_move_with_the_person_and_keep_their_whole_size() -> None:
    """A person walking right at 100 px/s, 40 x 160 px: the next frame's track box is where
    they will be, as large as their largest recent box even after a frame that saw only their
    upper half; a person missed in the last frame gets none; boxes are clipped to the frame."""
    tracker = Tracker(AIC14.sigmas_array)
    for f in range(5):
        tracker.update([_pose(100 + 10 * f), _pose(600)], f / 10)  # 10 px a frame
    upper = _pose(150)
    upper.keypoints[7:, 2] = 0.0  # a frame that found only the upper half of the person
    upper.keypoints[:7, 0] = 150 + np.linspace(-20, 20, 7)
    tracker.update([upper], 0.5)  # and missed the person at x = 600
    (hint,) = tracker.hint_boxes(0.6, (360, 640))
    assert hint.source is BoxSource.TRACK
    x1, y1, x2, y2 = hint.as_list()
    assert abs((x1 + x2) / 2 - 160) < 2.0  # 10 px on from the last centre
    assert abs((x2 - x1) - 40) < 1e-6 and abs((y2 - y1) - 160) < 1e-6  # the whole person
    assert abs(y1 - 100) < 10  # the top near the head (the half box's centre moved it up)
    edge = Tracker(AIC14.sigmas_array)
    edge.update([_pose(630)], 0.0)
    (clipped,) = edge.hint_boxes(0.1, (360, 640))
    assert clipped.x2 == 640 and clipped.x1 == 610


def test_people_crossing_get_no_track_boxes() -> None:
    """Two people whose boxes overlap (IoU > hint_max_overlap) are each parsed as in an image;
    a third, apart from them, keeps their track box."""
    tracker = Tracker(AIC14.sigmas_array)
    tracker.update([_pose(100), _pose(125), _pose(400)], 0.0)  # 40 px wide, 15 px overlap
    hints = tracker.hint_boxes(0.04, (360, 640))
    assert len(hints) == 1 and abs((hints[0].x1 + hints[0].x2) / 2 - 400) < 1e-6
    apart = Tracker(AIC14.sigmas_array, TrackerConfig(hint_max_overlap=1.0))
    apart.update([_pose(100), _pose(125), _pose(400)], 0.0)
    assert len(apart.hint_boxes(0.04, (360, 640))) == 3


def _weak(pose: Pose, score: float = 0.02) -> Pose:
    return Pose(pose.keypoints.copy(), score)


def test_weak_poses_only_continue_tracks_that_no_sure_pose_matched() -> None:
    """ByteTrack's second association: a pose under the answer's threshold is answered only as
    a tracked person whom no sure pose matched, with a box overlapping the track's predicted box
    by IoU >= weak_min_iou; a weak stray opens no track, a weak fragment of a person (their
    upper joints, a box under IoU 0.5 with theirs) continues none, and a weak duplicate of a
    matched person is dropped."""
    tracker = Tracker(AIC14.sigmas_array)
    assert [t.track_id for t in tracker.update([_pose(100), _pose(400)], 0.0)] == [1, 2]
    half = _pose(400)
    half.keypoints[7:, 2] = 0  # the first 7 joints: box IoU about 0.2 with the whole
    stray, duplicate = _weak(_pose(700)), _weak(_pose(102))
    out = tracker.update([_pose(102)], 0.04, weak=[stray, _weak(half), duplicate])
    assert [t.track_id for t in out] == [1]
    assert tracker.ids_issued == 2
    rescued = _weak(_pose(404))
    out = tracker.update([_pose(104)], 0.08, weak=[stray, rescued, duplicate])
    assert [(t.track_id, t.pose.score) for t in out] == [(1, 1.0), (2, 0.02)]
    assert tracker.ids_issued == 2
    # without `weak` the person is unseen that frame; the next sure pose still has their id
    assert [t.track_id for t in tracker.update([_pose(106), _pose(408)], 0.12)] == [1, 2]


def test_a_new_pose_on_a_tracked_person_is_answered_only_from_its_second_frame() -> None:
    """Tentative tracks (`tentative_iou`): a pose opening a track where a person is already
    tracked (box IoU 0.45 with theirs here) is a duplicate or a mix of two overlapping people as
    often as a newcomer. Seen once it is not answered and costs no id; seen in two frames in a
    row it is answered from the second, with the next id. A newcomer in the open, and everyone
    in the first frame, are answered at once."""
    tracker = Tracker(AIC14.sigmas_array)
    assert [t.track_id for t in tracker.update([_pose(100), _pose(400)], 0.0)] == [1, 2]
    over = _pose(115)  # 40 px wide boxes 15 px apart: IoU 25 / 55
    assert iou_matrix(box_of(over)[None], box_of(_pose(100))[None])[0, 0] > 0.3
    out = tracker.update([_pose(100), _pose(400), over], 0.04)
    assert [t.track_id for t in out] == [1, 2]  # once: a duplicate, not answered
    assert tracker.ids_issued == 2
    assert [t.track_id for t in tracker.update([_pose(100), _pose(400)], 0.08)] == [1, 2]
    tracker.update([_pose(100), _pose(400), _pose(116)], 0.12)  # someone steps out again
    out = tracker.update([_pose(100), _pose(400), _pose(118), _pose(700)], 0.16)
    assert [t.track_id for t in out] == [1, 2, 3, 4]  # the second frame in a row: answered
    assert tracker.ids_issued == 4  # ids stay 1, 2, 3, ...: the duplicate took none
    off = Tracker(AIC14.sigmas_array, TrackerConfig(tentative_iou=None))
    off.update([_pose(100), _pose(400)], 0.0)
    assert [t.track_id for t in off.update([_pose(100), _pose(400), over], 0.04)] == [1, 2, 3]
