"""Boxes decide whose joints they are, not whether a visible joint exists (the paper's claim of
robustness to box shift and tightness): a person sticking out of a shifted or tight box keeps the
joints outside it; a loose box reaching over a neighbour still answers the person it was drawn
around; the paper's 10% search region, for contrast, cuts the joints off."""

from __future__ import annotations

import pytest
from parsing_helpers import STRIDE, match_errors, person, scene

from service.parsing import ParserConfig, parse
from service.skeleton import AIC14
from service.types import Box

PAPER = ParserConfig(search_extension=0.1)


def moved(box: Box, dx: float, dy: float, scale: float = 1.0) -> Box:
    """`box` with its centre moved by (dx, dy) of its width / height, its sides scaled."""
    cx, cy = (box.x1 + box.x2) / 2 + dx * box.width, (box.y1 + box.y2) / 2 + dy * box.height
    hw, hh = box.width * scale / 2, box.height * scale / 2
    return Box(cx - hw, cy - hh, cx + hw, cy + hh, 1.0, box.source)


@pytest.mark.parametrize(("dx", "dy", "scale"), [(0.3, 0.0, 1.0), (-0.3, 0.3, 1.0),
                                                 (0.0, 0.0, 0.6), (0.15, -0.2, 0.7)])
def test_a_person_sticking_out_of_a_shifted_or_tight_box_keeps_every_joint(
        dx: float, dy: float, scale: float) -> None:  # fmt: skip
    kp, maps, fields, boxes = scene(person(240, 60))
    box = moved(boxes[0], dx, dy, scale)
    outside = ~box.extended(0.1).contains(kp[0, :, :2])
    assert outside.sum() >= 2  # the case is real: joints lie outside the (paper's) box
    (pose,) = parse("boxes", maps, fields, AIC14, STRIDE, [box])
    assert pose.num_visible == AIC14.num_joints
    assert match_errors([pose], kp).max() < 0.05
    cut = parse("boxes", maps, fields, AIC14, STRIDE, [box], PAPER)
    assert all(p.num_visible < AIC14.num_joints for p in cut)  # the paper's region cuts them


def test_a_loose_box_over_a_neighbour_answers_the_person_it_was_drawn_around() -> None:
    # two people side by side; A's box moved towards B and grown 1.7x holds most of B's joints
    kp, maps, fields, boxes = scene(person(170, 60), person(235, 60))
    loose = moved(boxes[0], 0.3, 0.0, 1.7)
    assert loose.contains(kp[1, :, :2]).mean() > 0.5
    poses = parse("boxes", maps, fields, AIC14, STRIDE, [loose])
    assert len(poses) == 1
    errors = match_errors(poses, kp)
    assert errors[0].max() < 0.05  # every joint A's
    assert errors[1].min() > 30  # none of B's


def test_shifted_boxes_of_neighbours_each_answer_their_own_person() -> None:
    # each box shifted towards the other person by a third of its width
    kp, maps, fields, boxes = scene(person(150, 60), person(330, 60))
    shifted = [moved(boxes[0], 0.33, 0.0), moved(boxes[1], -0.33, 0.0)]
    poses = parse("boxes", maps, fields, AIC14, STRIDE, shifted)
    assert len(poses) == 2
    for pose, own in zip(sorted(poses, key=lambda p: p.keypoints[13, 0]), kp, strict=True):
        assert match_errors([pose], own[None]).max() < 0.05


def test_a_box_far_from_anyone_still_produces_nothing() -> None:
    _, maps, fields, boxes = scene(person(80, 60))
    far = Box(400, 200, 470, 310)  # the person lies more than the box's own size away
    assert parse("boxes", maps, fields, AIC14, STRIDE, [far]) == []


@pytest.mark.parametrize("loose_first", [True, False])
def test_a_person_in_two_boxes_is_owned_by_the_box_it_fits_best(loose_first: bool) -> None:
    # the loose box reaches over both people; B is owned by B's box, A by A's own box
    kp, maps, fields, boxes = scene(person(170, 60), person(330, 60))
    loose = moved(boxes[0], 0.4, 0.0, 1.6)
    given = [loose, *boxes] if loose_first else [*boxes, loose]
    poses = parse("boxes", maps, fields, AIC14, STRIDE, given, ParserConfig(use_completion=False))
    assert len(poses) == 2
    assert {id(p.box) for p in poses} == {id(b) for b in boxes}
    assert match_errors(poses, kp).max() < 0.05
