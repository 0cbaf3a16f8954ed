"""`boxpose eval` on COCO-17 ground truth: parsed in COCO-18 (neck derived), scored on COCO's
17 joints with COCO's sigmas."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from service.cli import main
from service.evaluation.coco_eval import (
    joint_columns,
    select_joints,
    sigmas_for,
    skeleton_from_category,
    truth_joints,
)
from service.evaluation.synthetic import SceneConfig, random_scene, scenes_to_coco
from service.skeleton import AIC14, COCO18, COCO_SIGMAS_17

COCO17 = COCO18.joints[:17]
REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "coco-mini-train"


def coco17_truth(n: int = 6) -> dict:
    """COCO-18 synthetic people written as a COCO-17 file (the neck dropped)."""
    rng = np.random.default_rng(2)
    cfg = SceneConfig(max_people=4, min_size=200.0, max_size=300.0, min_separation=30.0)
    gt = scenes_to_coco([random_scene(rng, cfg, COCO18) for _ in range(n)], COCO18)
    for ann in gt["annotations"]:
        ann["keypoints"] = ann["keypoints"][: 17 * 3]
        ann["num_keypoints"] = int((np.reshape(ann["keypoints"], (17, 3))[:, 2] > 0).sum())
    gt["categories"][0]["keypoints"] = list(COCO17)
    gt["categories"][0]["skeleton"] = []
    return gt


def test_coco17_is_read_as_coco18_and_scored_on_its_17_joints() -> None:
    gt = coco17_truth(1)
    skeleton = skeleton_from_category(gt["categories"][0])
    columns = joint_columns(skeleton, truth_joints(gt))
    assert skeleton is COCO18 and columns == list(range(17))
    assert tuple(sigmas_for(skeleton, "coco")[columns]) == COCO_SIGMAS_17
    entry = {"image_id": 1, "keypoints": list(range(54)), "score": 1.0}
    (picked,) = select_joints([entry], [17, 0])  # neck, then nose
    assert picked["keypoints"] == [51, 52, 53, 0, 1, 2] and picked["score"] == 1.0
    with pytest.raises(ValueError, match="nose"):
        joint_columns(AIC14, COCO17)


def test_eval_oracle_on_a_coco17_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "coco17.json"
    path.write_text(json.dumps(coco17_truth()))
    out = tmp_path / "results.json"
    assert main(["eval", "--oracle", "--annotations", str(path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "aic sigmas" not in printed
    ap = float(printed.split("coco sigmas: AP ")[1].split()[0])
    assert ap >= 99.0
    results = json.loads(out.read_text())
    assert results and all(len(r["keypoints"]) == 17 * 3 for r in results)


@pytest.mark.skipif(not REAL.is_dir(), reason=f"shared data not found at {REAL}")
def test_eval_oracle_on_real_coco(capsys: pytest.CaptureFixture) -> None:
    path = REAL / "annotations" / "person_keypoints_train2017.json"
    assert main(["eval", "--oracle", "--annotations", str(path)]) == 0
    printed = capsys.readouterr().out
    assert "80 images" in printed
    assert float(printed.split("coco sigmas: AP ")[1].split()[0]) > 75.0  # 83.23 measured
