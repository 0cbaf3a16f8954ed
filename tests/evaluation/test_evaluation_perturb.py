"""Noisy ground truth as results: the AP a localisation error costs (bench/target_bounds.py)."""

from __future__ import annotations

import numpy as np
import pytest

from service.evaluation.coco_eval import evaluate_keypoints, sigmas_for
from service.evaluation.perturb import perturbed_results
from service.skeleton import AIC14

J = AIC14.num_joints


def _one_person(hidden: int) -> dict:
    """One person of 14 labelled joints far from the origin, the first `hidden` of them v = 1."""
    rng = np.random.default_rng(3)
    kp = np.zeros((J, 3))
    kp[:, 0] = rng.uniform(300, 400, J)
    kp[:, 1] = rng.uniform(200, 400, J)
    kp[:, 2] = 2
    kp[:hidden, 2] = 1
    ann = {"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "num_keypoints": J,
           "keypoints": kp.ravel().tolist(), "bbox": [300, 200, 100, 200], "area": 20000.0}
    crowd = dict(ann, id=2, iscrowd=1)  # never becomes a result
    return {"images": [{"id": 1, "width": 640, "height": 480}], "annotations": [ann, crowd],
            "categories": [{"id": 1, "name": "person", "keypoints": list(AIC14.joints)}]}


def test_no_noise_is_the_truth_and_crowds_are_skipped() -> None:
    gt = _one_person(hidden=4)
    results = perturbed_results(gt, 0.0, 0.0, np.random.default_rng(0))
    assert len(results) == 1
    assert results[0]["keypoints"][0::3] == gt["annotations"][0]["keypoints"][0::3]
    assert evaluate_keypoints(gt, results, sigmas_for(AIC14, "aic"))["AP"] == pytest.approx(1.0)


def test_each_visibility_gets_its_own_noise() -> None:
    gt = _one_person(hidden=4)
    truth = np.asarray(gt["annotations"][0]["keypoints"]).reshape(J, 3)
    out = np.asarray(perturbed_results(gt, 0.0, 3.0, np.random.default_rng(0))[0]["keypoints"])
    moved = np.abs(out.reshape(J, 3)[:, :2] - truth[:, :2]).max(axis=1)
    assert (moved[:4] > 0).all() and (moved[4:] == 0).all()
    out = np.asarray(perturbed_results(gt, 2.0, 0.0, np.random.default_rng(0))[0]["keypoints"])
    moved = np.abs(out.reshape(J, 3)[:, :2] - truth[:, :2]).max(axis=1)
    assert (moved[:4] == 0).all() and (moved[4:] > 0).all()


def test_left_out_hidden_joints_cost_their_share_of_oks() -> None:
    # 10 of 14 joints exact, 4 at (0, 0): OKS = 10/14 = 0.714, which passes the thresholds
    # 0.50, 0.55, 0.60, 0.65, 0.70 of the ten (0.50:0.95), so AP = 5/10.
    gt = _one_person(hidden=4)
    results = perturbed_results(gt, 0.0, 0.0, np.random.default_rng(0), drop_hidden=True)
    kp = np.asarray(results[0]["keypoints"]).reshape(J, 3)
    assert (kp[:4] == 0).all() and (kp[4:, 2] == 1).all()
    stats = evaluate_keypoints(gt, results, sigmas_for(AIC14, "aic"))
    assert stats["AP"] == pytest.approx(0.5)
    assert stats["AP50"] == pytest.approx(1.0) and stats["AP75"] == pytest.approx(0.0)
