"""The evaluation mosaics' geometry: neighbours' boxes overlap by the IoU asked, grid boxes do
not overlap, keypoints move with their pixels, and joints a later person covers become hidden."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.real_mosaics import (  # noqa: E402
    SourcePerson,
    compose,
    grid_placement,
    row_height,
    row_lefts,
    row_placement,
)
from service.data.real import joints_box  # noqa: E402
from service.evaluation.real_eval import iou  # noqa: E402
from service.evaluation.synthetic import _AIC14_CANONICAL  # noqa: E402

SIZE = (480, 848)


def person(height: float, width_scale: float, photo: tuple[int, int] = (220, 180)) -> SourcePerson:
    """A standing AIC-14 person `height` px tall (head top to ankles) in a black photo, a
    white dot at each joint; `width_scale` stretches it sideways."""
    xy = _AIC14_CANONICAL * [height * width_scale, height] / 0.99 + (photo[1] / 2, 50.0)
    keypoints = np.column_stack([xy, np.full(14, 2.0)])
    image = np.zeros((*photo, 3), np.uint8)
    for x, y in np.round(xy).astype(int):
        image[y - 1 : y + 2, x - 1 : x + 2] = 255
    return SourcePerson(image, keypoints, joints_box(keypoints))


def people(n: int) -> list[SourcePerson]:
    return [person(120 + 10 * i, 1.0 + 0.1 * (i % 3)) for i in range(n)]


def test_row_lefts_give_the_asked_iou_for_unequal_widths() -> None:
    widths = np.array([50.0, 70.0, 60.0])
    lefts = row_lefts(widths, 0.3)
    boxes = np.column_stack([lefts, np.zeros(3), lefts + widths, np.full(3, 100.0)])
    assert np.allclose(np.diagonal(iou(boxes[:-1], boxes[1:])), 0.3)


@pytest.mark.parametrize("level", [0.0, 0.2, 0.4, 0.6])
def test_row_neighbours_overlap_by_the_asked_iou(level: float) -> None:
    crowd = people(4)
    boxes = np.stack([p.box for p in crowd])
    height = row_height(boxes, SIZE)
    mosaic = compose(crowd, row_placement(boxes, level, SIZE, height), np.zeros((*SIZE, 3)))
    reached = np.diagonal(iou(mosaic.boxes[:-1], mosaic.boxes[1:]))
    assert np.allclose(reached, level, atol=1e-9)
    assert np.allclose(mosaic.boxes[:, 3] - mosaic.boxes[:, 1], height)
    assert mosaic.boxes[:, :2].min() >= 0
    assert (mosaic.boxes[:, 2] <= SIZE[1]).all() and (mosaic.boxes[:, 3] <= SIZE[0]).all()


def test_keypoints_move_with_their_pixels() -> None:
    crowd = people(3)
    boxes = np.stack([p.box for p in crowd])
    placement = row_placement(boxes, 0.0, SIZE, row_height(boxes, SIZE))
    mosaic = compose(crowd, placement, np.zeros((*SIZE, 3)))
    assert (placement.scales > 1).all()  # the dots grow: their centres stay bright
    xy = np.round(mosaic.keypoints[..., :2]).astype(int).reshape(-1, 2)
    assert (mosaic.image[xy[:, 1], xy[:, 0]].min(axis=-1) > 200).all()
    expected = np.stack([p.keypoints[:, :2] for p in crowd]) * placement.scales[:, None, None]
    assert np.allclose(mosaic.keypoints[..., :2], expected + placement.shifts[:, None])


def test_a_later_person_hides_the_joints_it_covers() -> None:
    crowd = people(2)
    boxes = np.stack([p.box for p in crowd])
    height = row_height(boxes, SIZE)
    apart = compose(crowd, row_placement(boxes, 0.0, SIZE, height), np.zeros((*SIZE, 3)))
    assert (apart.keypoints[..., 2] == 2).all()
    over = compose(crowd, row_placement(boxes, 0.6, SIZE, height), np.zeros((*SIZE, 3)),
                   order=np.array([0, 1]))  # fmt: skip
    assert (over.keypoints[1, :, 2] == 2).all()  # the front person stays visible
    assert (over.keypoints[0, :, 2] == 1).any()


@pytest.mark.parametrize("n", [1, 2, 5, 10, 20])
def test_grid_boxes_stay_apart_inside_the_canvas(n: int) -> None:
    crowd = [person(100 + 7 * i, 0.8 + 0.2 * (i % 4)) for i in range(n)]
    boxes = np.stack([p.box for p in crowd])
    mosaic = compose(crowd, grid_placement(boxes, SIZE), np.zeros((*SIZE, 3)))
    overlap = iou(mosaic.boxes, mosaic.boxes)
    assert np.allclose(overlap[~np.eye(n, dtype=bool)], 0.0)
    assert mosaic.boxes[:, :2].min() >= 0
    assert (mosaic.boxes[:, 2] <= SIZE[1]).all() and (mosaic.boxes[:, 3] <= SIZE[0]).all()
