"""`boxpose label`: poses -> COCO keypoint annotations with per-joint confidences."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from service.cli import main
from service.labelling.coco_labels import LabelConfig, annotation, document
from service.skeleton import AIC14
from service.types import Box, Pose


def pose(score: float = 0.9) -> Pose:
    kp = np.zeros((14, 3))
    kp[:, 0], kp[:, 1] = np.arange(14) * 10 + 5, 50.0
    kp[:, 2] = np.linspace(0.05, 1.0, 14)
    kp[13] = [300.0, 50.0, 0.9]  # placed outside a 200-wide image
    kp[12, 2] = 0.0  # not found
    return Pose(kp, score, Box(-10, 20, 150, 90, 0.8, "detector"))


def test_annotation_flags_scores_and_box() -> None:
    ann = annotation(pose(), image_id=3, ann_id=7, size=(100, 200), config=LabelConfig())
    triplets = np.asarray(ann["keypoints"]).reshape(14, 3)
    scores = np.linspace(0.05, 1.0, 14)
    expected_v = np.where(scores >= 0.5, 2, 1)
    expected_v[12:] = 0  # not found, outside the image
    np.testing.assert_array_equal(triplets[:, 2], expected_v)
    np.testing.assert_array_equal(triplets[12:], 0)
    np.testing.assert_allclose(triplets[:12, 0], np.arange(12) * 10 + 5)
    assert ann["num_keypoints"] == 12
    assert ann["keypoint_scores"][13] == 0.9 and len(ann["keypoint_scores"]) == 14
    assert ann["bbox"] == [0.0, 20.0, 150.0, 70.0] and ann["area"] == 150.0 * 70.0
    assert (ann["id"], ann["image_id"], ann["score"], ann["box_source"]) == (7, 3, 0.9, "detector")


def test_document_keeps_people_above_min_score() -> None:
    images = [{"id": 1, "file_name": "a.jpg", "width": 200, "height": 100}]
    doc = document(images, [[pose(0.9), pose(0.3)]], AIC14, {"x": 1}, LabelConfig(min_score=0.5))
    assert len(doc["annotations"]) == 1
    cat = doc["categories"][0]
    assert cat["keypoints"] == list(AIC14.joints)
    assert [13 + 1, 12 + 1] in cat["skeleton"]  # 1-based limbs


def test_label_command_on_a_folder(tmp_path: Path) -> None:
    data = pytest.importorskip("skimage.data", reason="scikit-image gives the astronaut photo")
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "astronaut.png"), data.astronaut()[:, :, ::-1])
    cv2.imwrite(str(folder / "grey.jpg"), np.full((90, 120, 3), 128, np.uint8))
    (tmp_path / "boxes.json").write_text(json.dumps({"astronaut.png": [[0, 0, 420, 512]]}))
    out = tmp_path / "labels.json"
    assert main(["label", str(folder), "--out", str(out), "--boxes",
                 str(tmp_path / "boxes.json")]) == 0
    doc = json.loads(out.read_text())
    assert [im["file_name"] for im in doc["images"]] == ["astronaut.png", "grey.jpg"]
    assert len(doc["annotations"]) == 1
    ann = doc["annotations"][0]
    assert ann["box_source"] == "client" and ann["bbox"] == [0.0, 0.0, 420.0, 512.0]
    assert ann["keypoints"][AIC14.joint("left_shoulder") * 3 + 2] == 2
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(out))
    assert coco.getAnnIds(imgIds=[1]) == [1]


def test_label_command_refuses_an_empty_folder(tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    assert main(["label", str(tmp_path), "--out", str(tmp_path / "x.json")]) == 2
    assert "no images" in capsys.readouterr().err
