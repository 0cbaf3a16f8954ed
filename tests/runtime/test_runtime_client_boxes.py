"""Client boxes are answered one to one: N boxes in, N poses out, in order, each with its box."""

from __future__ import annotations

import numpy as np
import pytest
from runtime_fakes import SceneData, box, make_scene, make_store

from service.runtime.client_boxes import answer_each_box, empty_pose, shared_answers
from service.runtime.factory import load_pipeline
from service.runtime.protocol import PoseModel
from service.types import Box, Pose

BACKGROUND = [292.0, 2.0, 318.0, 28.0]  # top right corner of the scene: nobody there


@pytest.fixture(scope="module")
def scene() -> SceneData:
    return make_scene()


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory, scene: SceneData) -> PoseModel:
    store = make_store(tmp_path_factory.mktemp("store"), scene)
    return load_pipeline("pose-fixed", "detector-fixed", "cpu", store)


def test_each_box_is_answered_in_order_even_empty_and_duplicate(
    pipeline: PoseModel, scene: SceneData
) -> None:
    boxes = [box(scene.boxes[1]), box(BACKGROUND), box(scene.boxes[0]), box(scene.boxes[0])]
    poses = pipeline.predict(scene.image, boxes).poses
    assert [p.box for p in poses] == boxes  # one each, in the client's order, boxes as sent
    assert all(p.box is b for p, b in zip(poses, boxes, strict=True))
    nobody = poses[1]
    assert nobody.score == 0.0 and not nobody.keypoints.any()  # all-null keypoints, score 0
    # The duplicate box holds the same person: pose NMS must not take it away.
    for pose, truth in ((poses[0], scene.keypoints[1]), (poses[2], scene.keypoints[0]),
                        (poses[3], scene.keypoints[0])):  # fmt: skip
        assert pose.score > 0 and pose.num_visible == 14
        assert np.abs(pose.keypoints[:, :2] - truth[:, :2]).max() < 2.0


def test_only_boxes_left_without_a_pose_are_parsed_again() -> None:
    boxes = [Box(0, 0, 10, 10), Box(0, 0, 10, 10), Box(20, 0, 30, 10)]  # equal, yet two boxes
    first = Pose(np.ones((3, 3)), 0.8, boxes[0])
    weaker = Pose(np.ones((3, 3)), 0.2, boxes[0])
    calls: list[list[Box]] = []

    def reparse(rest: list[Box]) -> list[Pose]:
        calls.append(rest)
        return [Pose(np.full((3, 3), 2.0), 0.5, rest[0])]  # finds someone in the first only

    poses = answer_each_box([weaker, first], boxes, 3, reparse)
    assert len(calls) == 1 and calls[0][0] is boxes[1] and calls[0][1] is boxes[2]
    assert poses[0] is first  # the best of the poses the box holds
    assert poses[1].score == 0.5 and poses[1].box is boxes[1]
    assert poses[2].score == 0.0 and poses[2].box is boxes[2] and not poses[2].keypoints.any()


def test_no_reparse_when_every_box_has_its_pose() -> None:
    boxes = [Box(0, 0, 10, 10)]
    pose = Pose(np.ones((3, 3)), 0.8, boxes[0])
    assert answer_each_box([pose], boxes, 3, lambda rest: pytest.fail("parsed again")) == [pose]
    assert empty_pose(boxes[0], 14).keypoints.shape == (14, 3)


def test_detector_boxes_are_not_padded_with_empty_poses(pipeline: PoseModel, scene: SceneData
                                                        ) -> None:  # fmt: skip
    poses = pipeline.predict(scene.image).poses
    assert len(poses) == 2 and all(p.score > 0 for p in poses)


def test_a_box_around_nobody_beside_a_person_does_not_answer_that_person(
    pipeline: PoseModel, scene: SceneData
) -> None:
    # A client box half over person 0 (box IoU about 0.3) where nobody else stands: its search
    # region reaches both people, but each is owned by their own box, where they fit better.
    x1, y1, x2, y2 = scene.boxes[0]
    shift = 0.5 * (x2 - x1)
    beside = box([x1 + shift, y1, x2 + shift, y2])
    boxes = [beside, box(scene.boxes[0]), box(scene.boxes[1])]
    poses = pipeline.predict(scene.image, boxes).poses
    assert [p.box for p in poses] == boxes
    assert poses[0].score == 0.0 and poses[0].num_visible == 0
    for pose, truth in zip(poses[1:], scene.keypoints, strict=True):
        assert pose.num_visible == 14
        assert np.abs(pose.keypoints[:, :2] - truth[:, :2]).max() < 2.0
    # alone, the same box answers the person it reaches (a loose box): it is nobody else's
    (alone,) = pipeline.predict(scene.image, [beside]).poses
    assert np.abs(alone.keypoints[:, :2] - scene.keypoints[0, :, :2]).max() < 2.0


def test_shared_answers_copy_only_a_pose_that_fits_the_box_as_well_as_its_own() -> None:
    own = Box(0, 0, 10, 20)
    kp = np.array([[1.0, 1.0, 0.9], [9.0, 19.0, 0.8], [5.0, 10.0, 0.7]])
    pose = Pose(kp, 0.7, own, np.array([0, 1, 2]), np.ones(2))
    twin, neighbour = Box(0.5, 0.5, 10, 20), Box(6, 0, 16, 20)
    (twin_pose,) = shared_answers([pose])([twin, neighbour])
    assert twin_pose.box is twin and twin_pose.score == 0.7
    assert np.array_equal(twin_pose.keypoints, kp) and twin_pose.keypoints is not kp
    assert shared_answers([pose])([neighbour]) == []
