"""Our MoveNet decoding: a stand-in of 8 people (centre blobs, joint blobs at the regressed
points) decodes into 8 people, each joint where it was put; the graph's cap of 6 is an option,
not a limit; poses carry COCO-18 with the neck at the shoulders' midpoint."""

from __future__ import annotations

import numpy as np

from service.parsing.centres import NUM_JOINTS, CentreDecodeConfig, centre_peaks, decode, to_poses
from service.skeleton import COCO18
from service.types import BoxSource

H, W = 48, 64
RNG = np.random.default_rng(3)
# each joint's offset from its person's centre, in cells (dy, dx)
JOINT_OFFSETS = np.stack([np.linspace(-3, 3, NUM_JOINTS), np.linspace(2, -2, NUM_JOINTS)], -1)
CENTRES = [(6, 8), (6, 24), (6, 40), (6, 56), (30, 8), (30, 24), (30, 40), (30, 56)]


def _blob(y: float, x: float, sigma: float = 1.0) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    return np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * sigma**2))


def stand_in() -> tuple[np.ndarray, ...]:
    """Heads of 8 people at CENTRES; joint k of each lies at its centre + JOINT_OFFSETS[k] and
    0.25 cell further (the kpt_offset refinement); the regression is off by up to one cell."""
    centre = np.zeros((1, H, W))
    heatmaps = np.zeros((NUM_JOINTS, H, W))
    regress = np.zeros((2 * NUM_JOINTS, H, W))
    offsets = np.full((2 * NUM_JOINTS, H, W), 0.25)
    for cy, cx in CENTRES:
        centre[0] = np.maximum(centre[0], 0.9 * _blob(cy, cx))
        for k, (dy, dx) in enumerate(JOINT_OFFSETS):
            heatmaps[k] = np.maximum(heatmaps[k], 0.8 * _blob(round(cy + dy), round(cx + dx)))
    regress[0::2] = (JOINT_OFFSETS[:, 0] + RNG.uniform(-1, 1, NUM_JOINTS))[:, None, None]
    regress[1::2] = (JOINT_OFFSETS[:, 1] + RNG.uniform(-1, 1, NUM_JOINTS))[:, None, None]
    box_scale = np.stack([np.full((H, W), 12.0), np.full((H, W), 10.0)])
    box_offset = np.zeros((2, H, W))
    return centre, heatmaps, regress, offsets, box_scale, box_offset


def test_eight_centres_decode_into_eight_people_with_their_joints() -> None:
    people = decode(*stand_in())
    assert len(people) == 8 > 6
    found = sorted((round(p.centre[1] / 4), round(p.centre[0] / 4)) for p in people)
    assert found == sorted(CENTRES)
    for person in people:
        cy, cx = person.centre[1] / 4, person.centre[0] / 4
        want = np.stack([(cx + np.round(JOINT_OFFSETS[:, 1]) + 0.25) * 4,
                         (cy + np.round(JOINT_OFFSETS[:, 0]) + 0.25) * 4], -1)  # fmt: skip
        np.testing.assert_allclose(person.keypoints[:, :2], want, atol=1e-9)
        assert (person.keypoints[:, 2] > 0.5).all()
        assert 0.5 < person.score <= 0.9
        np.testing.assert_allclose(person.box, [(cx - 5) * 4, (cy - 6) * 4, (cx + 5) * 4,
                                                (cy + 6) * 4])  # fmt: skip


def test_the_graphs_cap_is_an_option_and_weak_centres_are_no_people() -> None:
    heads = stand_in()
    assert len(decode(*heads, config=CentreDecodeConfig(max_people=6))) == 6
    assert decode(*heads, config=CentreDecodeConfig(centre_threshold=0.95)) == []


def test_centre_peaks_are_local_maxima_strongest_first() -> None:
    centre = 0.5 * _blob(10, 10) + 0.7 * _blob(30, 50)
    rows, cols, scores = centre_peaks(centre, 0.1)
    assert list(zip(rows, cols, strict=True)) == [(30, 50), (10, 10)]
    np.testing.assert_allclose(scores, [0.7, 0.5], atol=1e-6)


def test_poses_are_coco18_with_the_neck_between_the_shoulders_in_image_pixels() -> None:
    poses = to_poses(decode(*stand_in()), scale=0.5)
    left, right, neck = (COCO18.joints.index(j) for j in ("left_shoulder", "right_shoulder",
                                                          "neck"))  # fmt: skip
    for pose in poses:
        assert pose.keypoints.shape == (COCO18.num_joints, 3)
        np.testing.assert_allclose(pose.keypoints[neck, :2],
                                   (pose.keypoints[left, :2] + pose.keypoints[right, :2]) / 2)
        assert pose.box is not None and pose.box.source == BoxSource.BOX_HEAD
    people = decode(*stand_in())
    np.testing.assert_allclose(poses[0].keypoints[:NUM_JOINTS, :2], people[0].keypoints[:, :2] * 2)
