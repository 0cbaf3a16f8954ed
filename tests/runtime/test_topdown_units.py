"""Top-down pieces against their definitions: heatmap refinement, SSD anchors, weighted NMS,
the crop geometry and the BlazePose -> AIC14 mapping (no model file needed)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from service.detector.blazepose import anchor_centres, weighted_nms
from service.network.blazepose_topdown import refine_from_heatmaps
from service.runtime.blazepose_joints import HEAD_TOP_UP, to_aic14, to_skeleton
from service.runtime.crops import Square
from service.runtime.outputs import DetectorRows
from service.skeleton import AIC14
from service.types import Box


def mediapipe_refine(x: float, y: float, hm: np.ndarray, size: int, kernel: int = 7,
                     min_conf: float = 0.5) -> tuple[float, float]:
    """RefineLandmarksFromHeatmapCalculator's loop for one landmark; hm (h, w) logits."""
    h, w = hm.shape
    col, row = int(x / size * w), int(y / size * h)
    if col < 0 or col >= w or row < 0 or row >= h:
        return x, y
    off = (kernel - 1) // 2
    total = wc = wr = peak = 0.0
    for r in range(max(0, row - off), min(h, row + off + 1)):
        for c in range(max(0, col - off), min(w, col + off + 1)):
            conf = 1 / (1 + math.exp(-hm[r, c]))
            total, peak = total + conf, max(peak, conf)
            wc, wr = wc + c * conf, wr + r * conf
    if peak >= min_conf and total > 0:
        return wc / w / total * size, wr / h / total * size
    return x, y


def test_refinement_equals_mediapipe_loop() -> None:
    rng = np.random.default_rng(0)
    hm = rng.normal(-4, 3, size=(1, 4, 16, 16)).astype(np.float32)
    hm[0, 0, 5:8, 9:12] = 6.0  # a confident blob near landmark 0
    hm[0, 3] = -8.0  # never confident: landmark 3 stays
    lms = np.array([[[40.0, 25.0], [1.0, 60.0], [63.5, 0.2], [30.0, 30.0]]], dtype=np.float32)
    ours = refine_from_heatmaps(torch.from_numpy(lms), torch.from_numpy(hm), 64).numpy()
    for j in range(4):
        ref = mediapipe_refine(float(lms[0, j, 0]), float(lms[0, j, 1]), hm[0, j], 64)
        np.testing.assert_allclose(ours[0, j], ref, atol=1e-4)
    np.testing.assert_array_equal(ours[0, 3], lms[0, 3])


def test_refinement_leaves_landmarks_outside_the_map() -> None:
    hm = torch.full((1, 1, 8, 8), 5.0)
    lms = torch.tensor([[[-10.0, 5.0]]])
    assert refine_from_heatmaps(lms, hm, 32).tolist() == [[[-10.0, 5.0]]]


def test_anchors_follow_the_ssd_layout() -> None:
    a = anchor_centres()
    assert a.shape == (2254, 2)
    np.testing.assert_allclose(a[0].numpy(), [0.5 / 28, 0.5 / 28])  # stride 8, 2 per cell
    np.testing.assert_allclose(a[1].numpy(), [0.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(a[2].numpy(), [1.5 / 28, 0.5 / 28])  # x runs fastest
    np.testing.assert_allclose(a[1568].numpy(), [0.5 / 14, 0.5 / 14])  # stride 16
    np.testing.assert_allclose(a[-1].numpy(), [6.5 / 7, 6.5 / 7])  # stride 32, 6 per cell


def test_weighted_nms_averages_each_cluster() -> None:
    faces = torch.tensor([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60.0]])
    values = torch.tensor([[0.0], [10.0], [100.0]])
    scores = torch.tensor([0.9, 0.6, 0.8])
    out, best = weighted_nms(faces, values, scores, 0.3, 10)
    np.testing.assert_allclose(out[:, 0].numpy(), [(0 * 0.9 + 10 * 0.6) / 1.5, 100.0])
    np.testing.assert_allclose(best.numpy(), [0.9, 0.8])
    assert weighted_nms(faces, values, scores, 0.3, 1)[0].shape == (1, 1)


def test_square_crop_samples_and_maps_back() -> None:
    image = np.zeros((100, 120, 3), dtype=np.uint8)
    image[30, 80] = 255  # one white pixel at (x=80, y=30)
    for angle in (0.0, 0.4):
        square = Square(70.0, 40.0, 64.0, angle)
        crop = square.cut(image, 32)  # 2 image pixels per crop pixel
        v, u = np.unravel_index(np.argmax(crop[..., 0]), crop.shape[:2])
        back = square.to_image(np.array([[u, v]], dtype=np.float64), 32)[0]
        assert np.hypot(*(back - [80, 30])) <= 2.0, (angle, back)


def test_square_of_a_box_is_centred_and_grown() -> None:
    square = Square.of(Box(10, 20, 30, 100), 0.25)
    assert (square.cx, square.cy, square.side, square.angle) == (20, 60, 100, 0.0)


def test_body_angle_turns_hip_to_head_upright() -> None:
    rows = np.zeros((2, 13))
    rows[0, 5:9] = [100, 200, 100, 50]  # body point straight above the hips: no rotation
    rows[1, 5:9] = [100, 200, 200, 200]  # body point to the right: rotate by 90 degrees
    np.testing.assert_allclose(DetectorRows.of(rows).angles(), [0.0, math.pi / 2], atol=1e-9)


def test_aic14_mapping_and_derived_joints() -> None:
    rng = np.random.default_rng(3)
    lms = np.concatenate([rng.random((1, 39, 3)) * 100, rng.random((1, 39, 2))], axis=2)
    aic = to_aic14(lms)
    assert aic.shape == (1, 14, 3)
    np.testing.assert_allclose(aic[0, AIC14.joint("left_wrist")], lms[0, 15, [0, 1, 3]])
    np.testing.assert_allclose(aic[0, AIC14.joint("right_ankle")], lms[0, 28, [0, 1, 3]])
    neck = aic[0, AIC14.joint("neck")]
    np.testing.assert_allclose(neck[:2], (lms[0, 11, :2] + lms[0, 12, :2]) / 2)
    assert neck[2] == pytest.approx(min(lms[0, 11, 3], lms[0, 12, 3]))
    xy = lms[0, :, :2]
    eyes, ears, mouth = (xy[2] + xy[5]) / 2, (xy[7] + xy[8]) / 2, (xy[9] + xy[10]) / 2
    top = (eyes + ears) / 2 + HEAD_TOP_UP * (eyes - mouth)
    np.testing.assert_allclose(aic[0, AIC14.joint("head_top"), :2], top)


def test_coco18_mapping_by_mediapipe_landmark_index() -> None:
    from service.skeleton import COCO18

    rng = np.random.default_rng(4)
    lms = np.concatenate([rng.random((2, 39, 3)) * 100, rng.random((2, 39, 2))], axis=2)
    coco = to_skeleton(lms, COCO18)
    assert coco.shape == (2, 18, 3)
    # mediapipe PoseLandmark: NOSE 0, LEFT_EYE 2, RIGHT_EYE 5, LEFT_EAR 7, RIGHT_EAR 8,
    # LEFT_SHOULDER 11 .. RIGHT_WRIST 16, LEFT_HIP 23 .. RIGHT_ANKLE 28
    expected = [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]
    np.testing.assert_allclose(coco[:, :17], lms[:, expected][..., [0, 1, 3]])
    np.testing.assert_allclose(coco[:, 17, :2], (lms[:, 11, :2] + lms[:, 12, :2]) / 2)
    np.testing.assert_allclose(coco[:, 17, 2], np.minimum(lms[:, 11, 3], lms[:, 12, 3]))
    np.testing.assert_allclose(to_skeleton(lms, AIC14), to_aic14(lms))
    with pytest.raises(ValueError, match="aic14 or coco18"):
        to_skeleton(lms, AIC14.__class__.from_dict({**AIC14.to_dict(), "name": "other"}))
