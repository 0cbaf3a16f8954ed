"""Oracle AP, the pycocotools wrapper and `boxpose eval --oracle`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from service.cli import main
from service.evaluation.coco_eval import (
    evaluate_keypoints,
    sigmas_for,
    skeleton_from_category,
)
from service.evaluation.oracle import oracle_results
from service.evaluation.synthetic import SceneConfig, random_scene, scenes_to_coco
from service.skeleton import AIC14, COCO18


def _ground_truth(n: int = 20, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    # Up to 10 people per image, overlapping and truncated by the border.
    cfg = SceneConfig(max_people=10, truncation=0.0)
    return scenes_to_coco([random_scene(rng, cfg) for _ in range(n)])


@pytest.mark.parametrize("seed", [0, 1])
def test_oracle_maps_parsed_in_ground_truth_boxes_reach_ap_099(seed: int) -> None:
    gt = _ground_truth(seed=seed)
    assert max(len([a for a in gt["annotations"] if a["image_id"] == i["id"]])
               for i in gt["images"]) >= 8
    truncated = [a for a in gt["annotations"] if a["num_keypoints"] < 14]
    assert truncated  # some people are cut by the image border
    results, ids = oracle_results(gt, AIC14, "boxes")
    for sigmas in ("aic", "coco"):
        assert evaluate_keypoints(gt, results, sigmas_for(AIC14, sigmas), ids)["AP"] >= 0.99


def test_ap_is_one_for_the_truth_and_aic_sigmas_punish_pixels_harder() -> None:
    gt = _ground_truth(n=5)
    truth = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"],
              "score": 1.0} for a in gt["annotations"]]
    assert evaluate_keypoints(gt, truth, sigmas_for(AIC14, "aic"))["AP"] == pytest.approx(1.0)
    shifted = [dict(r, keypoints=[v + 2.0 if k % 3 == 0 and v > 0 else v
                                  for k, v in enumerate(r["keypoints"])]) for r in truth]
    aic = evaluate_keypoints(gt, shifted, sigmas_for(AIC14, "aic"))["AP"]
    coco = evaluate_keypoints(gt, shifted, sigmas_for(AIC14, "coco"))["AP"]
    assert aic < coco < 1.0 + 1e-9
    assert evaluate_keypoints(gt, [], sigmas_for(AIC14, "aic"))["AP"] == 0.0


def test_skeleton_is_read_from_the_category() -> None:
    gt = _ground_truth(n=1)
    assert skeleton_from_category(gt["categories"][0]) is AIC14
    assert gt["categories"][0]["skeleton"][0] == [14, 13]  # 1-based, neck -> head top
    with pytest.raises(ValueError):
        sigmas_for(COCO18, "aic")


def test_eval_command_with_the_oracle_writes_results(tmp_path: Path, capsys) -> None:
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(_ground_truth(n=4)))
    out = tmp_path / "results.json"
    assert main(["eval", "--annotations", str(path), "--oracle", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "aic sigmas: AP 100.00" in printed and "coco sigmas" in printed
    results = json.loads(out.read_text())
    assert results and len(results[0]["keypoints"]) == 14 * 3
    assert main(["eval", "--annotations", str(path), "--oracle", "--parser", "greedy",
                 "--boxes", "none", "--limit", "2", "--sigmas", "aic"]) == 0
    assert "2 images" in capsys.readouterr().out


def _hide(gt: dict, joint: int) -> dict:
    """The same ground truth with `joint` hidden (v = 1) wherever it is labelled."""
    hidden = json.loads(json.dumps(gt))
    for ann in hidden["annotations"]:
        if ann["keypoints"][3 * joint + 2] > 0:
            ann["keypoints"][3 * joint + 2] = 1
    return hidden


def test_visible_joint_oracle_draws_no_peak_for_hidden_joints() -> None:
    wrist = AIC14.joints.index("right_wrist")
    gt = _hide(_ground_truth(n=6), wrist)
    everything, ids = oracle_results(gt, AIC14, "boxes")
    visible, _ = oracle_results(gt, AIC14, "boxes", joints="visible")
    sigmas = sigmas_for(AIC14, "aic")
    assert evaluate_keypoints(gt, everything, sigmas, ids)["AP"] >= 0.99
    assert evaluate_keypoints(gt, visible, sigmas, ids)["AP"] < 0.9
    wrist_scores = [r["keypoints"][3 * wrist + 2] for r in visible]
    assert wrist_scores and max(wrist_scores) == 0.0  # no pose has a right wrist
    necks = [r["keypoints"][3 * AIC14.joints.index("neck") + 2] > 0 for r in visible]
    assert sum(necks) >= 0.8 * len(necks)  # the other joints are still found (some truncated)
    with pytest.raises(ValueError, match="joints"):
        oracle_results(gt, AIC14, "boxes", joints="hidden")


def test_eval_command_oracle_joints(tmp_path: Path, capsys) -> None:
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(_hide(_ground_truth(n=3), AIC14.joints.index("left_ankle"))))
    assert main(["eval", "--annotations", str(path), "--oracle", "--oracle-joints", "visible",
                 "--sigmas", "aic"]) == 0
    printed = capsys.readouterr().out
    assert "oracle (visible joints)" in printed and "aic sigmas: AP 100.00" not in printed
    with pytest.raises(SystemExit, match="--oracle-joints is for --oracle"):
        main(["eval", "--annotations", str(path), "--model", "pose-lite",
              "--oracle-joints", "visible"])
