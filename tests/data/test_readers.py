"""COCO and AI Challenger readers on small files the tests write: joint order, COCO-17 -> COCO-18,
visibility conversion, and the ignore mask of crowds and people without keypoints."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from service.data.aic import AicKeypoints, aic_to_coco, convert_keypoints
from service.data.coco import CocoKeypoints
from service.data.synth.writer import write_dataset
from service.skeleton import AIC14, COCO18

H, W = 60, 80


def _image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((H, W, 3), 90, np.uint8))


def _coco17_file(tmp_path: Path) -> Path:
    kp = np.zeros((17, 3))
    kp[5] = (30, 20, 2)  # left shoulder
    kp[6] = (20, 22, 1)  # right shoulder
    kp[0] = (25, 10, 2)  # nose
    rle = mask_utils.encode(np.asfortranarray(_block(40, 45, 5, 10)))
    uncompressed = {"size": [H, W], "counts": _counts(_block(20, 25, 60, 65))}
    anns = [
        {"id": 1, "image_id": 7, "category_id": 1, "iscrowd": 0, "num_keypoints": 3,
         "keypoints": kp.ravel().tolist(), "bbox": [15, 5, 20, 30]},
        {"id": 2, "image_id": 7, "category_id": 1, "iscrowd": 1, "num_keypoints": 0,
         "keypoints": [0] * 51, "bbox": [60, 40, 10, 10],
         "segmentation": {"size": [H, W], "counts": rle["counts"].decode()}},
        {"id": 3, "image_id": 7, "category_id": 1, "iscrowd": 0, "num_keypoints": 0,
         "keypoints": [0] * 51, "bbox": [0, 50, 10, 6],
         "segmentation": [[0, 50, 10, 50, 10, 56, 0, 56]]},
        {"id": 4, "image_id": 7, "category_id": 1, "iscrowd": 0, "num_keypoints": 0,
         "keypoints": [0] * 51, "bbox": [70, 0, 5, 5]},
        {"id": 5, "image_id": 7, "category_id": 1, "iscrowd": 1, "num_keypoints": 0,
         "keypoints": [0] * 51, "bbox": [60, 20, 5, 5], "segmentation": uncompressed},
    ]
    data = {"images": [{"id": 7, "file_name": "a.jpg", "width": W, "height": H}],
            "annotations": anns,
            "categories": [{"id": 1, "name": "person", "keypoints": [f"k{i}" for i in range(17)],
                            "skeleton": []}]}
    _image(tmp_path / "img" / "a.jpg")
    (tmp_path / "coco.json").write_text(json.dumps(data))
    return tmp_path / "coco.json"


def _block(r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    m = np.zeros((H, W), np.uint8)
    m[r0:r1, c0:c1] = 1
    return m


def _counts(m: np.ndarray) -> list[int]:
    """Uncompressed COCO RLE (column-major run lengths, starting with zeros)."""
    flat = m.ravel(order="F")
    edges = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], edges, [flat.size]])
    runs = np.diff(bounds).tolist()
    return runs if flat[0] == 0 else [0] + runs


def test_coco17_becomes_coco18_with_a_neck(tmp_path: Path) -> None:
    src = CocoKeypoints(_coco17_file(tmp_path), tmp_path / "img")
    assert src.skeleton is COCO18 and len(src) == 1
    sample = src.load(0)
    assert sample.image.shape == (H, W, 3)
    assert sample.keypoints.shape == (1, 18, 3)
    np.testing.assert_allclose(sample.keypoints[0, 17], (25, 21, 1))  # midpoint, lower flag
    np.testing.assert_allclose(sample.keypoints[0, 6], (20, 22, 1))
    np.testing.assert_allclose(sample.boxes, [[15, 5, 35, 35]])


def test_crowds_and_people_without_keypoints_are_ignored(tmp_path: Path) -> None:
    sample = CocoKeypoints(_coco17_file(tmp_path), tmp_path / "img").load(0)
    ignore = sample.ignore
    assert ignore is not None and ignore.shape == (H, W)
    assert ignore[40:45, 5:10].all()  # crowd, compressed RLE
    assert ignore[51:55, 1:9].all()  # polygon
    assert ignore[0:5, 70:75].all()  # no segmentation: its box
    assert ignore[20:25, 60:65].all()  # crowd, uncompressed RLE
    assert not ignore[5:35, 15:35].any()  # the annotated person
    assert ignore.sum() < 25 + 25 + 11 * 7 + 36


def test_project_files_stay_aic14(tmp_path: Path) -> None:
    coco = write_dataset(tmp_path, count=2, seed=5, width=96, height=80)
    src = CocoKeypoints(tmp_path / "annotations.json", tmp_path / "images")
    assert src.skeleton is AIC14
    kept = [a for a in coco["annotations"] if a["image_id"] == 1 and a["num_keypoints"] > 0]
    sample = src.load(0)
    assert sample.keypoints.shape == (len(kept), 14, 3)
    np.testing.assert_allclose(sample.keypoints.reshape(len(kept), -1),
                               [a["keypoints"] for a in kept])


AIC = [{
    "image_id": "abc", "url": "",
    "keypoint_annotations": {
        "human1": [10, 11, 1, 12, 13, 2, 14, 15, 3] + [20, 21, 1] * 11,
        "human2": [5, 5, 3] * 14,
    },
    "human_annotations": {"human1": [8, 9, 40, 50], "human2": [60, 30, 75, 58]},
}]  # fmt: skip


def test_aic_visibility_becomes_coco_flags() -> None:
    kp = convert_keypoints(AIC[0]["keypoint_annotations"]["human1"])  # type: ignore[index]
    np.testing.assert_allclose(kp[:3], [[10, 11, 2], [12, 13, 1], [0, 0, 0]])


def test_aic_reader(tmp_path: Path) -> None:
    _image(tmp_path / "img" / "abc.jpg")
    (tmp_path / "aic.json").write_text(json.dumps(AIC))
    src = AicKeypoints(tmp_path / "aic.json", tmp_path / "img")
    assert src.skeleton is AIC14 and len(src) == 1
    sample = src.load(0)
    assert sample.keypoints.shape == (1, 14, 3)
    np.testing.assert_allclose(sample.boxes, [[8, 9, 40, 50]])
    assert sample.ignore is not None
    assert sample.ignore[30:58, 60:75].all() and not sample.ignore[9:50, 8:40].any()


def test_aic_to_coco() -> None:
    coco = aic_to_coco(AIC, {"abc": (H, W)})
    assert [a["num_keypoints"] for a in coco["annotations"]] == [13, 0]
    assert coco["annotations"][0]["bbox"] == [8.0, 9.0, 32.0, 41.0]
    assert coco["categories"][0]["keypoints"] == list(AIC14.joints)
