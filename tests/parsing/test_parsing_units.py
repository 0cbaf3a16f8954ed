"""Contracts of the parser's parts: peaks, Eq. 5, Eq. 10, fusion, dispatch."""

from __future__ import annotations

import numpy as np
import pytest
from parsing_helpers import STRIDE, W, match_errors, person, scene

from service.evaluation.synthetic import box_of
from service.parsing import PARSERS, ParserConfig, boxes_from_poses, fuse_scales, parse
from service.parsing.boxes import parse_in_boxes
from service.parsing.limbs import score_connections, segment_scores
from service.parsing.nms import pose_distances
from service.parsing.peaks import find_peaks
from service.skeleton import AIC14
from service.targets import encode


def test_peaks_are_sub_pixel_exact_even_at_the_border() -> None:
    rng = np.random.default_rng(0)
    kp = np.zeros((6, 14, 3))
    kp[..., 0] = rng.uniform(0, 239, (6, 14))
    kp[..., 1] = rng.uniform(0, 159, (6, 14))
    kp[..., 2] = 2
    kp[0, :, 0] = rng.uniform(0, 2, 14)  # against the left border
    maps = encode(kp[:1], AIC14, 160, 240).maps
    cands = find_peaks(maps, STRIDE, 0.1)
    for j in range(14):
        got = cands.xy[cands.by_joint[j]]
        assert len(got) == 1
        assert np.abs(got[0] - kp[0, j, :2]).max() < 0.02


def test_peaks_respect_the_threshold_and_a_plateau_gives_one_peak() -> None:
    maps = np.zeros((2, 20, 20), dtype=np.float32)
    maps[0, 5, 5] = maps[0, 5, 6] = 0.8  # plateau
    maps[0, 15, 15] = 0.05  # below threshold
    cands = find_peaks(maps, STRIDE, 0.1)
    assert len(cands) == 1 and cands.score[0] == pytest.approx(0.8)


def test_limb_score_is_one_along_the_limb_and_minus_one_against_it() -> None:
    kp, _, fields, _ = scene(person(120, 60), person(360, 60))
    a, b = AIC14.limbs[2]  # right shoulder -> right elbow
    pa = np.array([kp[0, a, :2], kp[0, b, :2], kp[0, a, :2]])
    pb = np.array([kp[0, b, :2], kp[0, a, :2], kp[1, b, :2]])
    scores, _ = segment_scores(fields, np.full(3, 2), pa, pb, STRIDE, ParserConfig())
    assert scores[0] > 0.9 and scores[1] < -0.9 and abs(scores[2]) < 0.3


def test_pose_distance_counts_differing_candidates_over_the_larger_pose() -> None:
    ref = np.array([0, 1, 2, 3])
    others = np.array([[0, 1, 2, 3], [0, 1, -1, -1], [4, 5, 6, 7]])
    np.testing.assert_allclose(pose_distances(ref, others), [0.0, 0.5, 1.0])


def test_fusing_scales_recovers_the_unscaled_joints() -> None:
    kp = person(240, 80)[None]
    outputs = []
    for s in (0.7, 1.0, 1.3):
        scaled = kp.copy()
        scaled[..., :2] = (kp[..., :2] + 0.5) * s - 0.5
        t = encode(scaled, AIC14, round(320 * s), round(W * s))
        outputs.append((t.maps, t.fields))
    maps, fields = fuse_scales(outputs, (80, 120))
    assert maps.shape == (15, 80, 120) and fields.shape == (26, 80, 120)
    poses = parse("boxes", maps, fields, AIC14, STRIDE, [box_of(kp[0])])
    assert len(poses) == 1
    assert np.abs(poses[0].keypoints[:, :2] - kp[0, :, :2]).max() < 2.0


def test_dispatch_by_name_and_fallback_boxes() -> None:
    kp, maps, fields, _ = scene(person(120, 60), person(360, 60))
    assert set(PARSERS) == {"boxes", "greedy"}
    with pytest.raises(ValueError):
        parse("nope", maps, fields, AIC14, STRIDE, None)
    greedy = parse("greedy", maps, fields, AIC14, STRIDE, None)
    boxes = boxes_from_poses(greedy)
    assert len(boxes) == 2 and all(b.source == "greedy" for b in boxes)
    for box, pose in zip(boxes, greedy, strict=True):
        assert box.contains(pose.keypoints[pose.visible, :2]).all()
    fallback = parse("boxes", maps, fields, AIC14, STRIDE, None)
    assert len(fallback) == 2
    assert parse("boxes", maps, fields, AIC14, STRIDE, []) == []


def test_noise_maps_are_capped_per_joint_and_the_people_in_them_still_parse() -> None:
    """Noise gives thousands of local maxima; the cap keeps the best ones per joint, among them
    the peaks of two people standing on a quiet patch: greedy parsing returns them as given."""
    kp, maps, fields, boxes = scene(person(120, 60), person(360, 60))
    quiet = np.zeros(maps.shape[1:], dtype=bool)  # (h, w): the people's boxes, grown
    for box in boxes:
        b = box.extended(0.2)
        quiet[int(b.y1) // STRIDE:int(b.y2) // STRIDE + 2,
              int(b.x1) // STRIDE:int(b.x2) // STRIDE + 2] = True  # fmt: skip
    rng = np.random.default_rng(0)
    maps = np.where(quiet, maps, rng.uniform(0, 0.5, maps.shape)).astype(np.float32)  # < peaks (1)
    fields = np.where(quiet, fields, rng.uniform(-1, 1, fields.shape)).astype(np.float32)
    uncapped = find_peaks(maps, STRIDE, 0.1)
    capped = find_peaks(maps, STRIDE, 0.1, max_per_joint=16)
    assert len(uncapped) > 14 * 200
    assert len(capped) == 14 * 16
    for j, ids in enumerate(capped.by_joint):
        best = np.sort(uncapped.score[uncapped.by_joint[j]])[::-1][:16]
        assert np.allclose(np.sort(capped.score[ids])[::-1], best)
    poses = parse("greedy", maps, fields, AIC14, STRIDE, None, ParserConfig(max_peaks_per_joint=16))
    assert len(poses) <= 16
    ranked = sorted(poses, key=lambda p: -p.score)
    errors = match_errors(ranked[:2], kp)  # (2, J) px; inf: joint missing
    assert (errors < 0.05).all(), errors
    assert all(p.score < 0.25 for p in ranked[2:])  # whatever the noise adds scores low


def test_pairwise_iou_against_hand_computation() -> None:
    from service.parsing import pairwise_iou

    a = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float)
    b = np.array([[5, 0, 15, 10], [0, 0, 10, 10], [100, 100, 101, 101]], float)
    expected = np.array([[50 / 150, 1.0, 0.0], [0.0, 0.0, 0.0]])
    assert np.allclose(pairwise_iou(a, b), expected)


def test_greedy_boxes_supplement_detector_boxes_only() -> None:
    from dataclasses import replace

    from service.types import Box

    kp, maps, fields, gt = scene(person(120, 60), person(360, 60))
    found = gt[0].extended(0.1)
    detector = [Box(found.x1, found.y1, found.x2, found.y2, 0.9, "detector")]  # one missed
    client = [replace(detector[0], source="client")]
    on = ParserConfig(supplement_detector_boxes=True)
    assert len(parse("boxes", maps, fields, AIC14, STRIDE, detector)) == 1  # off by default
    poses = parse("boxes", maps, fields, AIC14, STRIDE, detector, on)
    assert len(poses) == 2
    necks = sorted(float(p.keypoints[AIC14.joints.index("neck"), 0]) for p in poses)
    assert np.allclose(necks, [120, 360], atol=1.0)
    assert len(parse("boxes", maps, fields, AIC14, STRIDE, client, on)) == 1  # the client's say


def test_a_strong_peak_beats_a_weak_one_the_field_prefers_with_the_peak_weight() -> None:
    """The right elbow's map peak stands 5 px off the arm's field (Eq. 5 score about 0.74), a
    faint second peak (0.11) lies on the field's axis (about 0.92): Algorithm 1 by Eq. 5 alone
    takes the faint one; with `connection_peak_weight` 1.25 each connection ranks by
    score + 1.25 x the mean of its two peaks, and the strong peak wins."""
    kp = person(240, 80)[None]
    shoulder, elbow = kp[0, 0, :2], kp[0, 1, :2]  # AIC-14: limb 2 is right shoulder -> elbow
    fields = encode(kp, AIC14, 320, 480).fields
    axis = (elbow - shoulder) / np.linalg.norm(elbow - shoulder)
    moved = kp.copy()
    moved[0, 1, :2] = elbow + 5 * np.array([-axis[1], axis[0]])
    maps = encode(moved, AIC14, 320, 480).maps.copy()
    faint = shoulder + 0.45 * (elbow - shoulder)
    gy, gx = np.mgrid[0:maps.shape[1], 0:maps.shape[2]]
    cx, cy = (faint - STRIDE / 2 + 0.5) / STRIDE
    maps[1] = np.maximum(maps[1], 0.13 * np.exp(-((gx - cx) ** 2 + (gy - cy) ** 2) / 2))
    cands = find_peaks(maps, STRIDE, 0.1)
    assert len(cands.by_joint[1]) == 2
    elbows = {}
    for weight in (None, 1.25):
        config = ParserConfig(connection_peak_weight=weight)
        conns = score_connections(cands, cands.score >= 0.1, fields, AIC14, STRIDE, config)
        peaks = (cands.score[conns.start] + cands.score[conns.end]) / 2
        rank = conns.score + (weight or 0.0) * peaks
        for limb in np.unique(conns.limb):  # each limb's group by decreasing rank (the equation)
            assert np.all(np.diff(rank[conns.limb == limb]) <= 1e-12)
        (pose,) = parse_in_boxes(maps, fields, AIC14, STRIDE, [box_of(kp[0])], config)
        elbows[weight] = pose.keypoints[1, :2]
    assert np.linalg.norm(elbows[None] - faint) < 1.0
    assert np.linalg.norm(elbows[1.25] - moved[0, 1, :2]) < 1.0
