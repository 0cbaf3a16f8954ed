"""The real-photo evaluation on fabricated people: AP of perturbed ground truth against the OKS
formula, unlabelled joints that count for nothing, PCK@0.2 by hand, the served boxes' AP, and
predictions tied back to their boxes or people."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from service.data.real import ImageRecord
from service.evaluation.pck import box_size, joint_errors, pck, per_joint, torso_size
from service.evaluation.real_eval import (
    ImagePrediction,
    greedy_assign,
    oks_matrix,
    poses_to_aic14,
    predict_record,
)
from service.evaluation.real_metrics import (
    SIGMAS,
    coco17_ap,
    errors_of,
    keypoint_ap,
    served_box_ap,
)
from service.skeleton import AIC14, COCO18, COCO_SIGMAS_17, COCO_SIGMAS_ON_AIC14
from service.types import Box, Pose

THRESHOLDS = np.linspace(0.5, 0.95, 10)


def _person(x0: float, y0: float) -> np.ndarray:
    """(14, 3): a 100 x 200 px person whose joints are spread over its box, all visible."""
    rng = np.random.default_rng(int(x0))
    xy = np.column_stack([x0 + rng.uniform(0, 100, 14), y0 + rng.uniform(0, 200, 14)])
    return np.column_stack([xy, np.full(14, 2.0)])


def _record(people: list[np.ndarray], subset: str = "s") -> ImageRecord:
    kp = np.array(people)
    boxes = np.array([[p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()]
                      for p in kp])  # fmt: skip
    return ImageRecord(Path("x.jpg"), 640, 480, kp, boxes, np.full(len(kp), 10000.0),
                       subset=subset)


def _prediction(keypoints: np.ndarray, scores: list[float] | None = None) -> ImagePrediction:
    kp = np.array(keypoints, dtype=np.float64).copy()
    kp[..., 2] = 1.0  # joint scores
    n = len(kp)
    return ImagePrediction(kp, np.array(scores or [1.0] * n), np.arange(n), np.zeros((0, 5)),
                           0.0)


def test_perfect_ground_truth_scores_ap_one() -> None:
    records = [_record([_person(10, 10), _person(300, 50)]), _record([_person(100, 100)])]
    preds = [_prediction(r.keypoints) for r in records]
    for joints in ("limbs12", "all"):
        for sigmas in ("coco", "aic"):
            assert keypoint_ap(records, preds, joints, sigmas)["AP"] == pytest.approx(1.0)


def test_known_displacement_gives_the_oks_predicted_ap() -> None:
    record = _record([_person(10, 10)])
    moved = record.keypoints.copy()
    moved[..., 0] += 10.0  # every joint 10 px to the right (OKS 0.82)
    sigmas = np.asarray(COCO_SIGMAS_ON_AIC14)[:12]
    # OKS over the 12 limb joints: mean exp(-d^2 / (2 s^2 (2 sigma)^2)), s^2 = area
    oks = np.mean(np.exp(-100.0 / (2 * 10000.0 * (2 * sigmas) ** 2)))
    expected = float(np.mean(oks >= THRESHOLDS))
    assert 0.1 < expected < 0.9  # the test says something
    stats = keypoint_ap([record], [_prediction(moved)], "limbs12", "coco")
    assert stats["AP"] == pytest.approx(expected)
    assert stats["AP50"] == pytest.approx(1.0)
    assert stats["AP75"] == pytest.approx(float(oks >= 0.75))


def test_unlabelled_joints_and_joints_outside_the_set_count_for_nothing() -> None:
    person = _person(10, 10)
    person[[2, 7], :] = 0.0  # right wrist, right knee unlabelled
    record = _record([person])
    pred = person.copy()
    pred[[2, 7], :2] = (600.0, 470.0)  # wild guesses where the ground truth says nothing
    pred[[12, 13], :2] += 80.0  # head top and neck far off: outside the 12 limb joints
    assert keypoint_ap([record], [_prediction(pred[None])], "limbs12")["AP"] == pytest.approx(1)
    assert keypoint_ap([record], [_prediction(pred[None])], "all")["AP"] < 0.9


def test_per_subset_ap_scores_its_own_images() -> None:
    good, bad = _record([_person(10, 10)], "good"), _record([_person(10, 10)], "bad")
    far = bad.keypoints.copy()
    far[..., :2] += 60.0
    preds = [_prediction(good.keypoints), _prediction(far)]
    assert keypoint_ap([good, bad], preds, subset="good")["AP"] == pytest.approx(1.0)
    assert keypoint_ap([good, bad], preds, subset="bad")["AP"] == 0.0


def test_pck_against_a_hand_computation() -> None:
    gt = np.zeros((2, 14, 3))
    gt[:, :, 2] = 2.0
    gt[0, 0, :2], gt[0, 9, :2] = (0, 0), (30, 40)  # torso 50: PCK radius 10
    gt[1, 3, :2], gt[1, 6, :2] = (0, 0), (0, 20)  # r_sho/l_hip missing below: other diagonal
    gt[1, [0, 9], 2] = 0.0
    pred = gt.copy()
    pred[..., 2] = 1.0
    pred[0, 1, 0] += 9.9  # inside 10
    pred[0, 2, 0] += 10.1  # outside 10
    pred[0, 4, 2] = 0.0  # not found: wrong
    pred[1, 5, 1] += 4.1  # person 2's torso is 20: radius 4, outside
    size = torso_size(gt, np.zeros((2, 4)))
    np.testing.assert_allclose(size, [50, 20])
    errors = joint_errors(gt, pred, size)
    labelled = 14 + 12
    assert pck(errors, 0.2) == pytest.approx((labelled - 3) / labelled)
    rows = per_joint(errors, 0.2)
    assert rows[2].pck == pytest.approx(0.5) and rows[0].count == 1  # r_sho: person 1 only
    assert rows[4].median_px == np.inf and rows[1].median_px == pytest.approx(9.9 / 2)


def test_torso_falls_back_to_a_side_then_leaves_the_person_out() -> None:
    kp = np.zeros((2, 14, 3))
    kp[0, 0] = (0, 0, 2)  # right shoulder
    kp[0, 6] = (0, 30, 1)  # right hip (hidden)
    kp[1, 0] = (5, 5, 2)  # a shoulder alone
    size = torso_size(kp, np.zeros((2, 4)))
    assert size[0] == pytest.approx(30) and np.isnan(size[1])
    assert box_size(kp, np.array([[0, 0, 10, 30], [0, 0, 40, 5]])).tolist() == [30, 40]


def test_oks_matrix_matches_pycocotools() -> None:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from service.data.real import to_coco
    from service.evaluation.real_metrics import results

    record = _record([_person(10, 10), _person(300, 40)])
    record.keypoints[0, 4] = 0.0  # an unlabelled joint
    preds = [_prediction(record.keypoints[::-1] + [[[0.0, 5.0, 0.0]]] * np.arange(14)[:, None])]
    mine = oks_matrix(record.keypoints, record.areas, preds[0].keypoints, SIGMAS["aic"])
    gt = COCO()
    gt.dataset = to_coco([record])
    gt.createIndex()
    ev = COCOeval(gt, gt.loadRes(results(preds)), iouType="keypoints")
    ev.params.kpt_oks_sigmas = SIGMAS["aic"]
    ev._prepare()
    theirs = ev.computeOks(1, 1)  # (detections, ground truths), same score: file order
    np.testing.assert_allclose(mine, np.asarray(theirs).T, rtol=1e-3, atol=1e-9)  # 3 decimals
    assert 0.05 < mine[0, 1] < 0.95


def test_served_box_ap_of_the_true_boxes_is_one() -> None:
    record = _record([_person(10, 10), _person(300, 50)])
    boxes = np.column_stack([record.boxes, [0.9, 0.8]])
    pred = ImagePrediction(np.zeros((0, 14, 3)), np.zeros(0), np.array([-1, -1]), boxes, 0.0)
    assert served_box_ap([record], [pred]).ap50 == pytest.approx(1.0)
    shifted = boxes + [200, 200, 200, 200, 0]
    pred = ImagePrediction(np.zeros((0, 14, 3)), np.zeros(0), np.array([-1, -1]), shifted, 0.0)
    assert served_box_ap([record], [pred]).ap50 == 0.0


def test_greedy_assign_is_one_to_one_best_first() -> None:
    sim = np.array([[0.9, 0.8], [0.95, 0.1], [0.0, 0.0]])
    assert greedy_assign(sim, 0.05).tolist() == [1, 0, -1]


def test_predictions_are_read_by_joint_name() -> None:
    kp = np.zeros((18, 3))
    kp[6] = (1, 2, 0.5)  # COCO-18 right shoulder
    kp[17] = (3, 4, 0.7)  # neck
    out = poses_to_aic14([Pose(kp, 1.0)], COCO18)
    np.testing.assert_allclose(out[0, AIC14.joint("right_shoulder")], (1, 2, 0.5))
    np.testing.assert_allclose(out[0, AIC14.joint("neck")], (3, 4, 0.7))
    np.testing.assert_array_equal(out[0, AIC14.joint("head_top")], 0.0)


class _FakePipeline:
    """Answers the client boxes in reverse order; finds one box itself."""

    skeleton = AIC14

    class config:  # noqa: N801 - mimics PipelineConfig's attribute
        scales = (1.0,)

    def __init__(self, people: np.ndarray) -> None:
        self.people = people

    def predict(self, image: np.ndarray, boxes: list[Box] | None = None):  # noqa: ANN201
        from service.runtime.protocol import PipelineResult, StageTimings

        given = boxes or [Box(0, 0, 50, 50, 0.7, "detector")]
        poses = [Pose(p.copy(), 0.5, b) for p, b in zip(self.people, given, strict=False)]
        return PipelineResult(poses[::-1], StageTimings())

    def detect_missing(self, inputs: list) -> list[list[Box] | None]:
        return [[Box(0, 0, 50, 50, 0.7, "detector")]]


def test_answers_are_tied_to_their_box_or_person() -> None:
    record = _record([_person(10, 10), _person(300, 50)])
    fake = _FakePipeline(record.keypoints)
    image = np.zeros((480, 640, 3), np.uint8)
    true = predict_record(fake, image, record, "true", SIGMAS["coco"])  # type: ignore[arg-type]
    assert true.assigned.tolist() == [1, 0]  # reversed answers, tied back by their boxes
    errors = errors_of([record], [true], "box")
    assert pck(errors) == 1.0
    served = predict_record(fake, image, record, "served", SIGMAS["coco"])  # type: ignore[arg-type]
    assert served.assigned.tolist() == [0, -1] and served.boxes.tolist() == [[0, 0, 50, 50, 0.7]]


def _coco_record(people: list[np.ndarray]) -> ImageRecord:
    """A record labelled in COCO-17 (its AIC-14 keypoints unused by coco17_ap)."""
    kp = np.array(people)
    boxes = np.array([[p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()]
                      for p in kp])  # fmt: skip
    return ImageRecord(Path("c.jpg"), 640, 480, np.zeros((len(kp), 14, 3)), boxes,
                       np.full(len(kp), 10000.0), coco17=kp)


def _coco_person(x0: float) -> np.ndarray:
    rng = np.random.default_rng(int(x0))
    xy = np.column_stack([x0 + rng.uniform(0, 100, 17), 10 + rng.uniform(0, 200, 17)])
    return np.column_stack([xy, np.full(17, 2.0)])


def _coco_prediction(people: np.ndarray) -> ImagePrediction:
    kp = np.array(people, dtype=np.float64).copy()
    kp[..., 2] = 1.0
    n = len(kp)
    return ImagePrediction(np.zeros((n, 14, 3)), np.ones(n), np.arange(n), np.zeros((0, 5)),
                           0.0, coco17=kp)


def test_coco17_ap_scores_the_face_points_with_cocos_sigmas() -> None:
    record = _coco_record([_coco_person(10), _coco_person(300)])
    assert coco17_ap([record], [_coco_prediction(record.coco17)])["AP"] == pytest.approx(1.0)
    moved = record.coco17.copy()
    moved[:, :5, 0] += 10.0  # nose, eyes, ears 10 px off (OKS 0.77); the body exact
    sigmas = np.asarray(COCO_SIGMAS_17)
    d2 = np.r_[np.full(5, 100.0), np.zeros(12)]
    oks = np.mean(np.exp(-d2 / (2 * 10000.0 * (2 * sigmas) ** 2)))
    expected = float(np.mean(oks >= THRESHOLDS))
    assert 0.1 < expected < 0.9  # the face points decide it
    assert coco17_ap([record], [_coco_prediction(moved)])["AP"] == pytest.approx(expected)


def test_coco17_ap_skips_photos_without_coco17_truth_and_non_coco_models() -> None:
    coco = _coco_record([_coco_person(10)])
    other = _record([_person(10, 10)])  # no COCO-17 labels: not scored
    preds = [_coco_prediction(coco.coco17), _coco_prediction(np.zeros((1, 17, 3)) + 600)]
    assert coco17_ap([coco, other], preds)["AP"] == pytest.approx(1.0)
    assert coco17_ap([other], preds[1:]) is None  # nothing labelled in COCO-17
    aic = [_prediction(other.keypoints)]  # an AIC-14 model: no COCO-17 poses
    assert coco17_ap([coco], aic) is None


def test_poses_of_a_coco_skeleton_are_read_into_coco17_by_name() -> None:
    from service.evaluation.real_eval import poses_to_coco17

    kp = np.column_stack([np.arange(18.0), 100 + np.arange(18.0), np.ones(18)])
    (out,) = poses_to_coco17([Pose(kp, 1.0)], COCO18)
    np.testing.assert_allclose(out, kp[:17])  # COCO-18's first 17 are COCO-17, the neck dropped
    assert poses_to_coco17([Pose(np.zeros((14, 3)), 1.0)], AIC14) is None
