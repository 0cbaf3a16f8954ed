"""Damaged maps and boxes: what the box parser must survive, and where the greedy one fails."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from parsing_helpers import STRIDE, match_errors, person, scene

from service.evaluation.damage import add_noise, blur, erase_disc, erase_limb, jitter_box
from service.parsing import ParserConfig, completion, parse
from service.parsing.limbs import segment_scores
from service.parsing.peaks import find_peaks
from service.skeleton import AIC14
from service.targets import encode
from service.types import Box, Pose

R_HIP, R_KNEE, NECK, R_WRIST = 6, 7, 13, 2


def _check_pose(pose: Pose) -> None:
    assert pose.keypoints.shape == (14, 3) and pose.box is not None
    assert 0 < pose.score <= 1
    missing = pose.keypoints[:, 2] == 0
    assert (pose.keypoints[missing, :2] == 0).all()


def test_clean_maps_give_back_exactly_the_people_in_the_boxes() -> None:
    kp, maps, fields, boxes = scene(person(100, 60), person(230, 80, 150), person(380, 50))
    poses = parse("boxes", maps, fields, AIC14, STRIDE, boxes[:2])  # the third has no box
    assert len(poses) == 2
    for pose in poses:
        _check_pose(pose)
    assert match_errors(poses, kp[:2]).max() < 0.05


def test_a_box_without_a_person_produces_nothing() -> None:
    _, maps, fields, boxes = scene(person(100, 60))
    empty = Box(300, 50, 450, 300)
    poses = parse("boxes", maps, fields, AIC14, STRIDE, [*boxes, empty])
    assert len(poses) == 1 and poses[0].box == boxes[0]


def test_noise_and_blurred_peaks_keep_joints_within_two_pixels() -> None:
    rng = np.random.default_rng(0)
    kp, maps, fields, boxes = scene(person(100, 60), person(230, 80, 150), person(380, 50))
    maps, fields = add_noise(maps, fields, rng, 0.05)
    maps[:-1], fields = blur(maps[:-1], 1.0), blur(fields, 1.0)
    poses = parse("boxes", maps, fields, AIC14, STRIDE, boxes)
    assert len(poses) == 3
    assert np.median(match_errors(poses, kp)) < 1.0 and match_errors(poses, kp).max() < 2.0


def test_a_missing_joint_is_reported_missing_not_invented() -> None:
    kp, maps, fields, boxes = scene(person(120, 60), person(360, 60))
    erase_disc(maps[R_WRIST], kp[0, R_WRIST, :2], 22.0, STRIDE)
    poses = parse("boxes", maps, fields, AIC14, STRIDE, boxes)
    err = match_errors(poses, kp)
    assert np.isinf(err[0, R_WRIST]) and np.delete(err[0], R_WRIST).max() < 0.05
    assert err[1].max() < 0.05


def test_a_shifted_or_too_tight_box_still_finds_its_person() -> None:
    kp, maps, fields, boxes = scene(person(120, 60), person(360, 60))
    b = boxes[0]
    shifted = Box(b.x1 + 0.08 * b.width, b.y1 - 0.05 * b.height, b.x2 + 0.08 * b.width,
                  b.y2 - 0.05 * b.height)
    tight = Box(b.x1 + 0.1 * b.width, b.y1 + 0.1 * b.height, b.x2 - 0.1 * b.width, b.y2)
    for box in (shifted, tight, jitter_box(b, np.random.default_rng(1), 0.05)):
        poses = parse("boxes", maps, fields, AIC14, STRIDE, [box])
        assert len(poses) == 1
        err = match_errors(poses, kp[:1])[0]
        found = np.isfinite(err)
        assert found.sum() >= 8 and err[found].max() < 0.05  # what it finds is right


def test_two_people_in_one_box_give_one_of_them_unmixed() -> None:
    kp, maps, fields, _ = scene(person(150, 60), person(300, 70))
    both = Box(80, 20, 380, 250)
    poses = parse("boxes", maps, fields, AIC14, STRIDE, [both])
    assert len(poses) == 1
    err = match_errors(poses, kp)
    assert min(err[0].max(), err[1].max()) < 0.05


def test_bbox_parser_keeps_people_apart_where_greedy_merges_them() -> None:
    kp, maps, fields, boxes = scene(person(120, 60), person(330, 60))
    limb = AIC14.limbs.index((NECK, R_HIP))
    # A wrong field: person A's neck "connects" to person B's right hip, the true ones erased.
    bridge = np.zeros((1, 14, 3))
    bridge[0, NECK], bridge[0, R_HIP] = kp[0, NECK], kp[1, R_HIP]
    fake = encode(bridge, AIC14, 320, 480).fields
    fields[2 * limb : 2 * limb + 2] = fake[2 * limb : 2 * limb + 2]
    greedy = parse("greedy", maps, fields, AIC14, STRIDE, None)
    merged = [p for p in greedy if np.linalg.norm(p.keypoints[NECK, :2] - kp[0, NECK, :2]) < 1]
    assert merged and np.linalg.norm(merged[0].keypoints[R_KNEE, :2] - kp[1, R_KNEE, :2]) < 1
    poses = parse("boxes", maps, fields, AIC14, STRIDE, boxes)
    assert len(poses) == 2 and match_errors(poses, kp).max() < 0.05


def test_pose_nms_removes_duplicates_from_overlapping_boxes() -> None:
    # the paper's parse (boxes choose independently): pose NMS is what removes the duplicates
    rng = np.random.default_rng(2)
    kp, maps, fields, boxes = scene(person(100, 60), person(230, 80, 150), person(380, 50))
    many = boxes + [jitter_box(b, rng, 0.1) for b in boxes for _ in range(2)]
    independent = ParserConfig(joint_ownership=False)
    with_nms = parse("boxes", maps, fields, AIC14, STRIDE, many, independent)
    without = parse("boxes", maps, fields, AIC14, STRIDE, many,
                    ParserConfig(joint_ownership=False, use_nms=False))  # fmt: skip
    assert len(with_nms) == 3 and len(without) > 3
    assert match_errors(with_nms, kp).max() < 0.05


def test_joint_ownership_leaves_no_duplicate_even_without_pose_nms() -> None:
    # three boxes per person: each person is answered once, by the box it fits best
    rng = np.random.default_rng(2)
    kp, maps, fields, boxes = scene(person(100, 60), person(230, 80, 150), person(380, 50))
    many = boxes + [jitter_box(b, rng, 0.1) for b in boxes for _ in range(2)]
    for config in (ParserConfig(), ParserConfig(use_nms=False)):
        poses = parse("boxes", maps, fields, AIC14, STRIDE, many, config)
        assert len(poses) == 3
        assert match_errors(poses, kp).max() < 0.05
        ids = np.concatenate([p.candidate_ids[p.candidate_ids >= 0] for p in poses])
        assert len(ids) == len(set(ids.tolist()))  # no candidate joint in two poses


def test_completion_restores_a_joint_whose_limb_field_was_erased() -> None:
    kp, maps, fields, boxes = scene(person(120, 60), person(360, 60))
    limb = AIC14.limbs.index((1, R_WRIST))
    erase_limb(fields, kp[0, 1, :2], kp[0, R_WRIST, :2], limb, STRIDE)
    plain = dataclasses.replace(ParserConfig(), use_completion=False)
    without = match_errors(parse("boxes", maps, fields, AIC14, STRIDE, boxes, plain), kp)
    assert np.isinf(without[0, R_WRIST])
    completed = match_errors(parse("boxes", maps, fields, AIC14, STRIDE, boxes), kp)
    assert completed.max() < 0.05


def test_greedy_parser_on_clean_separate_people() -> None:
    kp, maps, fields, _ = scene(person(100, 60), person(230, 80, 150), person(380, 50))
    poses = parse("greedy", maps, fields, AIC14, STRIDE, None)
    assert len(poses) == 3 and match_errors(poses, kp).max() < 0.05


def test_completion_scores_its_segments_in_one_call_as_eq5_one_by_one(
        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Pose completion weighs each free peak by the field joining it to the pose (Eq. 5); it
    scores all such segments of all poses in one vectorised call (`_pair_scores`). Each of
    those scores equals Eq. 5 computed alone, and three overlapping people whose limbs are faint
    in the fields are completed the same with it as scoring each segment when needed."""
    kp, maps, fields, boxes = scene(person(200, 60), person(235, 70, 180), person(270, 60))
    for a, b in ((0, 1), (7, 8), (10, 11), (4, 5)):  # weaken arms and legs under the threshold
        c = AIC14.limbs.index((a, b))
        fields[2 * c:2 * c + 2] *= 0.15
    tables: list[dict[tuple[int, int, int], float]] = []
    scored = completion._pair_scores
    monkeypatch.setattr(completion, "_pair_scores",
                        lambda *args: tables.append(scored(*args)) or tables[-1])  # fmt: skip
    batched = parse("boxes", maps, fields, AIC14, STRIDE, boxes)
    (pairs,) = tables
    assert len(batched) == 3 and len(pairs) > 20  # a joint has 2-3 free peaks in each box
    assert len({round(v, 6) for v in pairs.values()}) > 15  # the scores differ
    config = ParserConfig()
    cands = find_peaks(maps, STRIDE, config.completion_threshold, config.max_peaks_per_joint)
    for (limb, start, end), value in pairs.items():
        alone, _ = segment_scores(fields, np.array([limb]), cands.xy[[start]], cands.xy[[end]],
                                  STRIDE, config)  # fmt: skip
        assert value == pytest.approx(float(alone[0]), abs=1e-12)
    monkeypatch.setattr(completion, "_pair_scores", lambda *args: {})
    one_by_one = parse("boxes", maps, fields, AIC14, STRIDE, boxes)
    assert [p.candidate_ids.tolist() for p in batched] == \
        [p.candidate_ids.tolist() for p in one_by_one]  # fmt: skip
