"""`boxpose eval` on real-format files: a fabricated COCO-17 file through the bundled model,
and the errors a user meets."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from service.cli import main
from service.data.joint_maps import JOINT_MAPS


def _coco17(tmp_path: Path) -> Path:
    (tmp_path / "img").mkdir()
    cv2.imwrite(str(tmp_path / "img" / "a.jpg"), np.full((96, 128, 3), 120, np.uint8))
    kp = np.zeros((17, 3))
    kp[5:17] = [(40 + 3 * k, 20 + 4 * k, 2) for k in range(12)]
    data = {"images": [{"id": 1, "file_name": "a.jpg", "width": 128, "height": 96}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0,
                             "keypoints": kp.ravel().tolist(), "bbox": [30, 10, 60, 70]}],
            "categories": [{"id": 1, "name": "person",
                            "keypoints": list(JOINT_MAPS["coco17"].joints)}]}
    path = tmp_path / "a.json"
    path.write_text(json.dumps(data))
    return path


def test_eval_reads_a_coco17_file_and_reports_both_box_modes(tmp_path: Path, capsys) -> None:
    path = _coco17(tmp_path)
    code = main(["eval", "--annotations", str(path), "--images", str(tmp_path / "img"),
                 "--format", "coco17", "--model", "pose-lite", "--detector", "detector-lite"])
    out = capsys.readouterr().out
    assert code == 0
    assert "1 images, 1 people" in out
    assert out.count("keypoint AP, 12 limb joints, COCO sigmas") == 2
    assert "all labelled joints" not in out  # COCO-17 labels no neck, no head top
    assert "PCK@0.2 of the person box's longer side" in out
    assert "box AP of the served boxes" in out
    assert "| neck | 0 | - | - | - |" in out


def test_eval_refuses_unknown_sets_and_missing_paths(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="unknown data set"):
        main(["eval", "--dataset", "nope", "--model", "pose-lite"])
    with pytest.raises(SystemExit, match="needs --images"):
        main(["eval", "--annotations", str(tmp_path / "x.json"), "--format", "mpii-list",
              "--model", "pose-lite"])
    with pytest.raises(SystemExit, match="--box-modes"):
        main(["eval", "--dataset", "mmpose", "--model", "pose-lite", "--box-modes", "mine"])
    with pytest.raises(SystemExit, match="--annotations FILE or --dataset"):
        main(["eval", "--model", "pose-lite"])
