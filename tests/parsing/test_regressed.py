"""A box's regressed joints snapped to the peaks nearby, one more piece for Eq. 9
(parsing/regressed.py)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from parsing_helpers import STRIDE, person, scene

from service.evaluation.synthetic import box_of
from service.parsing import ParserConfig
from service.parsing.boxes import parse_in_boxes
from service.parsing.peaks import Candidates
from service.parsing.regressed import SNAP_OFFSET, snapped_joints
from service.skeleton import AIC14
from service.types import Box


def candidates(xy: list[tuple[float, float]], score: list[float], joint: list[int],
               num_joints: int) -> Candidates:  # fmt: skip
    """Candidates sorted by joint (as find_peaks gives them), each joint's block by score."""
    order = np.lexsort((-np.asarray(score), np.asarray(joint)))
    joints = np.asarray(joint)[order]
    bounds = np.searchsorted(joints, np.arange(num_joints + 1))
    return Candidates(np.asarray(xy, dtype=np.float64)[order], np.asarray(score)[order], joints,
                      tuple(np.arange(bounds[j], bounds[j + 1]) for j in range(num_joints)))


def test_a_joint_snaps_by_peak_over_distance_and_not_beyond_reach() -> None:
    """Joint 0 regressed at (100, 100): a 0.4 peak one cell away weighs 0.4 / (1 + 1.8) =
    0.143, a 1.0 peak 30 px (7.5 cells) away 1 / (7.5 + 1.8) = 0.108: the near one. Joint 1
    regressed 60 px from its only peak, with a reach of 0.25 x the 200-px box: none."""
    cands = candidates([(104, 100), (130, 100), (160, 140)], [0.4, 1.0, 0.9], [0, 0, 1], 2)
    box = Box(50, 50, 150, 250)  # larger side 200 px: reach 50 px
    points = np.array([[[100.0, 100.0], [100.0, 140.0]]])  # (B, J, 2)
    config = ParserConfig(regression_reach=0.25, search_extension=0.5)
    ids = snapped_joints(points, [box], cands, np.ones(3, bool), STRIDE, config)
    near = int(np.flatnonzero(cands.score == 0.4)[0])
    assert ids.tolist() == [[near, -1]]
    assert 0.4 / (1 + SNAP_OFFSET) > 1.0 / (30 / STRIDE + SNAP_OFFSET)
    far = replace(config, regression_reach=0.35)  # 70 px: joint 1's peak is in reach
    assert snapped_joints(points, [box], cands, np.ones(3, bool), STRIDE, far)[0, 1] >= 0


def test_the_person_the_box_regressed_is_answered_where_the_fields_connect_nothing() -> None:
    """Two people overlap; A's maps are fainter than B's and the fields are blank, so Algorithm
    1 connects nothing and completion alone fills A's box with the strongest peaks in it, B's
    among them. A's box carries A's joints as its model regressed them (3 px off): the snapped
    piece is A, joint for joint."""
    a, b = person(200, 80), person(250, 80)
    kp, _, fields, _ = scene(a, b)
    maps_a, maps_b = scene(a)[1], scene(b)[1]
    maps = np.maximum(0.6 * maps_a, maps_b)
    maps[-1] = 1.0 - maps[:-1].max(0)
    fields = np.zeros_like(fields)
    box = box_of(a)
    regressed = (a[:, :2] + 3.0 - [box.x1, box.y1]) / [box.width, box.height]
    carrying = replace(box, joints=regressed)
    errors = {}
    for reach in (None, 0.25):
        config = ParserConfig(regression_reach=reach, search_extension=0.1)
        (pose,) = parse_in_boxes(maps, fields, AIC14, STRIDE, [carrying], config)
        found = pose.keypoints[:, 2] > 0
        errors[reach] = np.where(found, np.linalg.norm(pose.keypoints[:, :2] - a[:, :2], axis=1),
                                 np.inf)  # fmt: skip
    assert (errors[0.25] < 1.0).all()
    assert (errors[None] > 20.0).sum() >= 3  # B's joints, or none, in A's box without it
    assert box == carrying  # the joints are no part of the box's identity


def test_box_joints_are_in_box_units_and_follow_the_box() -> None:
    box = Box(10, 20, 110, 220, joints=np.array([[0.5, 0.25], [1.1, -0.1]]))
    assert np.allclose(box.joint_points(), [[60, 70], [120, 0]])
    half = replace(box, x1=5, y1=10, x2=55, y2=110)  # the same box in half-size pixels
    assert np.allclose(half.joint_points(), box.joint_points() / 2)
    assert Box(1, 2, 3, 4).joint_points() is None


def test_completion_takes_no_peak_far_from_where_the_box_regressed_the_joint() -> None:
    """A's right ankle is gone from its map (out of the frame, say) and a stray right-ankle peak
    sits at the top of A's box, about 190 px from where A's box regressed the ankle. Completion
    fills the missing ankle with it from a plain box; from a box carrying A's regressed joints it
    takes only peaks within COMPLETION_REACH x 0.25 of the box's larger side (~100 px): none."""
    from service.parsing.completion import COMPLETION_REACH

    a = person(240, 80)
    _, maps, fields, _ = scene(a)
    maps = maps.copy()
    ankle = AIC14.joint("right_ankle")
    box = box_of(a)
    stray = np.array([box.x1 + 5.0, box.y1 + 5.0])
    gy, gx = np.mgrid[0:maps.shape[1], 0:maps.shape[2]]
    cx, cy = (stray - STRIDE / 2 + 0.5) / STRIDE
    maps[ankle] = 0.8 * np.exp(-((gx - cx) ** 2 + (gy - cy) ** 2) / 2)
    maps[-1] = 1.0 - maps[:-1].max(0)
    carrying = replace(box, joints=(a[:, :2] - [box.x1, box.y1]) / [box.width, box.height])
    assert np.linalg.norm(stray - a[ankle, :2]) > COMPLETION_REACH * 0.25 * max(box.width,
                                                                                 box.height)
    answers = {}
    for given, reach in ((box, None), (carrying, 0.25)):
        config = ParserConfig(regression_reach=reach, search_extension=0.1)
        (pose,) = parse_in_boxes(maps, fields, AIC14, STRIDE, [given], config)
        answers[reach] = pose.keypoints[ankle]
    assert np.linalg.norm(answers[None][:2] - stray) < 1.0  # completion took the stray peak
    assert answers[0.25][2] == 0.0  # left missing
