"""The benchmarks' own arithmetic: pose matching, OpenPose's layout, the crossing point and the
batch sizes read from /metrics. No timing is asserted."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import accuracy, match, oks  # noqa: E402
from bench.openpose_ref import AIC_TO_COCO, COCO_FIELD_CHANNELS, openpose_input, to_aic14  # noqa: E402
from bench.people_cost import crossing  # noqa: E402
from bench.server import Reply  # noqa: E402
from bench.service_load import summarise  # noqa: E402
from service.evaluation.synthetic import _AIC14_CANONICAL  # noqa: E402
from service.skeleton import AIC14  # noqa: E402


def person(dx: float = 0.0, dy: float = 0.0, size: float = 200.0) -> np.ndarray:
    """(14, 3) a standing AIC-14 person, neck at (300 + dx, 150 + dy), all joints labelled."""
    xy = _AIC14_CANONICAL * size + (300.0 + dx, 150.0 + dy)
    return np.column_stack([xy, np.full(14, 2.0)])


def test_oks_is_one_for_the_same_pose_and_zero_without_joints() -> None:
    gt = person()[None]
    assert oks(gt, gt)[0, 0] == pytest.approx(1.0)
    empty = gt.copy()
    empty[..., 2] = 0.0
    assert oks(gt, empty)[0, 0] == 0.0


def test_match_pairs_each_person_with_its_own_pose() -> None:
    gt = np.stack([person(), person(dx=250)])
    pred = np.stack([person(dx=251), person(dx=1), person(dx=-200)])
    assert sorted(match(gt, pred)) == [(0, 1), (1, 0)]


def test_accuracy_counts_found_people_and_the_mean_joint_error() -> None:
    gt = np.stack([person(), person(dx=250)])
    pred = person(dx=0.6, dy=0.8)[None]  # 1 px off on every joint; the second person missed
    acc = accuracy([(gt, pred)])
    assert (acc.people, acc.found, acc.poses) == (2, 1, 1)
    assert acc.error_px == pytest.approx(1.0)
    far = accuracy([(gt, person(dx=3, dy=4)[None])])  # 5 px: OKS (AIC sigmas) under 0.5
    assert far.found == 0 and np.isnan(far.error_px)


def test_openpose_output_goes_back_to_aic14_joints() -> None:
    candidate = np.array([[10.0, 20.0, 0.9, 0], [30.0, 40.0, 0.8, 1]])
    subset = -np.ones((1, 20))
    subset[0, 1], subset[0, 0] = 0, 1  # COCO neck -> candidate 0, nose -> candidate 1
    poses = to_aic14(candidate, subset)
    neck, head = AIC14.joint("neck"), AIC14.joint("head_top")
    assert poses.shape == (1, 14, 3)
    np.testing.assert_allclose(poses[0, neck], [10.0, 20.0, 0.9])
    np.testing.assert_allclose(poses[0, head], [30.0, 40.0, 0.8])
    assert (poses[0, [j for j in range(14) if j not in (neck, head)], 2] == 0).all()


def test_openpose_input_puts_each_joint_in_its_coco_channel_at_stride_8() -> None:
    rng = np.random.default_rng(0)
    kp = person()[None]
    out = openpose_input(kp, 480, 640, noise=0.0, rng=rng)
    heat, paf = out.heat[0].numpy(), out.paf[0].numpy()
    assert heat.shape == (19, 23, 31) and paf.shape == (38, 23, 31)  # 184 x 245 padded to 248
    neck = kp[0, AIC14.joint("neck"), :2] * 184 / 480  # scaled like their resize (+-1 px)
    i, j = np.unravel_index(np.argmax(heat[1]), heat[1].shape)  # COCO channel 1 = neck
    assert abs((j + 0.5) * 8 - 0.5 - neck[0]) <= 8 and abs((i + 0.5) * 8 - 0.5 - neck[1]) <= 8
    assert heat[14:18].max() == 0.0  # eyes and ears: no AIC-14 joint
    used = {c for pair in COCO_FIELD_CHANNELS.values() for c in pair}
    assert len(used) == 26 and all(np.abs(paf[list(p)]).max() > 0.5
                                   for p in COCO_FIELD_CHANNELS.values())  # unit vectors
    assert all(np.abs(paf[c]).max() == 0 for c in set(range(38)) - used)
    assert sorted(AIC_TO_COCO) == list(range(14))


def test_crossing_interpolates_between_the_measured_counts() -> None:
    assert crossing([1, 10], [100.0, 110.0], [50.0, 200.0]) == pytest.approx(1 + 9 * 50 / 140)
    assert crossing([1, 10], [100.0, 110.0], [50.0, 60.0]) is None
    assert crossing([1, 10], [100.0, 110.0], [120.0, 200.0]) == 1.0


def test_summarise_reads_batch_sizes_from_cumulative_buckets() -> None:
    before = {"boxpose_batch_size_count": 1.0, "boxpose_batch_size_sum": 1.0,
              "boxpose_batch_size_bucket{le=1.0}": 1.0, "boxpose_batch_size_bucket{le=4.0}": 1.0,
              "boxpose_batch_size_bucket{le=8.0}": 1.0}  # fmt: skip
    after = {"boxpose_batch_size_count": 4.0, "boxpose_batch_size_sum": 10.0,
             "boxpose_batch_size_bucket{le=1.0}": 2.0, "boxpose_batch_size_bucket{le=4.0}": 4.0,
             "boxpose_batch_size_bucket{le=8.0}": 4.0}  # fmt: skip
    replies = [Reply(200, 0.1 * (k + 1), 5.0, 1) for k in range(8)] + [Reply(503, 0.0, 0.0, 0)]
    out = summarise(replies, 2.0, before, after)
    assert out["mean_batch"] == pytest.approx(3.0)  # 9 images in 3 batches
    assert out["max_batch"] == 4.0  # every batch fits the le=4 bucket, not all fit le=1
    assert (out["ok"], out["errors"]) == (8, 1)
    assert out["throughput"] == pytest.approx(4.0)
    assert out["p50"] == pytest.approx(450.0)
