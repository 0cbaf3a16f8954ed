"""Readers of real annotation files on small files the tests write: LSP joints.mat, COCO-17 ->
AIC-14 (neck and head top unlabelled), every mmpose layout through the joint-mapping table,
and the masks of crowds and people without joints."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io

from service.data.joint_maps import JOINT_MAPS, markdown_table, to_aic14
from service.data.lsp import lsp_records, lsp_rows
from service.data.mmpose_sets import ReadOptions, read_coco_layout, read_mpii_list
from service.data.real import RecordSource, to_coco
from service.data.real_split import lspet_training_rows
from service.skeleton import AIC14

H, W = 60, 80
ROOT = Path(__file__).resolve().parents[2]


def _image(path: Path, height: int = H, width: int = W) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((height, width, 3), 90, np.uint8))


def _lsp_joints(n: int) -> np.ndarray:
    """(14, 3, n) LSPet layout: joint j of image i at (1 + j + i, 2 + 2 * j) (1-based), flag 1,
    except: joint 3 (left hip) of image 0 hidden at a real place, joint 12 (neck) of image 0
    not placed (x = 0, as LSPet stores it)."""
    joints = np.zeros((14, 3, n))
    for i in range(n):
        joints[:, 0, i] = 1 + np.arange(14) + i
        joints[:, 1, i] = 2 + 2 * np.arange(14)
        joints[:, 2, i] = 1
    joints[3, 2, 0] = 0  # hidden, placed
    joints[12, :, 0] = (0.0, 37.0, 0.0)  # not placed
    return joints


@pytest.mark.parametrize("layout", ["lspet", "lsp"])
def test_joints_mat_is_read_into_aic14(tmp_path: Path, layout: str) -> None:
    joints = _lsp_joints(3)
    saved = joints if layout == "lspet" else joints.transpose(1, 0, 2)  # LSP: (3, 14, N)
    scipy.io.savemat(tmp_path / "joints.mat", {"joints": saved})
    rows = lsp_rows(tmp_path, 1, 3)
    assert [r.index for r in rows] == [1, 2, 3]
    kp = rows[0].keypoints  # (14, 3) AIC-14
    lsp_of_aic = [8, 7, 6, 9, 10, 11, 2, 1, 0, 3, 4, 5, 13, 12]
    for target, source in enumerate(lsp_of_aic):
        if source == 12:
            continue
        assert kp[target, :2] == pytest.approx((source, 1 + 2 * source))  # 0-based pixels
    assert kp[AIC14.joint("left_hip"), 2] == 1  # flag 0, placed: hidden but labelled
    assert kp[AIC14.joint("right_ankle"), 2] == 2
    np.testing.assert_array_equal(kp[AIC14.joint("neck")], 0.0)  # not placed: unlabelled
    assert rows[1].keypoints[AIC14.joint("neck"), 2] == 2


def test_lsp_box_is_the_joint_extent_grown_and_paths_are_not_opened(tmp_path: Path) -> None:
    scipy.io.savemat(tmp_path / "joints.mat", {"joints": _lsp_joints(2)})
    row = lsp_rows(tmp_path, 2, 2)[0]
    assert row.path == tmp_path / "images" / "im00002.jpg" and not row.path.exists()
    xy = row.keypoints[row.keypoints[:, 2] > 0, :2]
    (x1, y1), (x2, y2) = xy.min(0), xy.max(0)
    dx, dy = 0.1 * (x2 - x1), 0.1 * (y2 - y1)
    np.testing.assert_allclose(row.box, [x1 - dx, y1 - dy, x2 + dx, y2 + dy])


def test_lsp_records_read_sizes_and_clip_boxes(tmp_path: Path) -> None:
    scipy.io.savemat(tmp_path / "joints.mat", {"joints": _lsp_joints(1)})
    _image(tmp_path / "images" / "im00001.jpg", 20, 16)
    (record,) = lsp_records(tmp_path)
    assert (record.width, record.height) == (16, 20)
    assert record.boxes[0, 0] >= 0 and record.boxes[0, 2] <= 15 and record.boxes[0, 3] <= 19


def test_training_rows_refuse_the_held_out_images(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="held-out"):
        lspet_training_rows(tmp_path, 8990, 9001)


def _coco_json(tmp_path: Path, names: list[str], people: list[dict], images: dict | None = None
               ) -> Path:
    data = {"images": [{"id": 5, "file_name": "a.jpg", "width": W, "height": H,
                        **(images or {})}],
            "annotations": [{"id": i + 1, "image_id": 5, "category_id": 1, **p}
                            for i, p in enumerate(people)],
            "categories": [{"id": 1, "name": "person", "keypoints": names}]}
    _image(tmp_path / "img" / str(data["images"][0]["file_name"]).split("/")[-1])
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(data))
    return path


def _numbered(count: int, flag: int = 2) -> list[float]:
    """Source joint k at (10 + k, 20 + k) with `flag`."""
    return [v for k in range(count) for v in (10.0 + k, 20.0 + k, flag)]


@pytest.mark.parametrize("name", ["aic14", "coco17", "crowdpose", "mpii", "posetrack", "jhmdb",
                                  "halpe26"])
def test_each_coco_layout_maps_through_the_table(tmp_path: Path, name: str) -> None:
    jm = JOINT_MAPS[name]
    count = 136 if name == "halpe26" else len(jm.joints)  # Halpe: 26 body joints of 136
    path = _coco_json(tmp_path, list(jm.joints), [
        {"keypoints": _numbered(count, 1), "bbox": [1, 2, 30, 40], "iscrowd": 0}])
    (record,) = read_coco_layout(path, tmp_path / "img", jm)
    kp = record.keypoints[0]
    flag = 2 if jm.visibility == "labelled" else 1
    for target, source in enumerate(jm.aic14):
        expected = (0, 0, 0) if source is None else (10 + source, 20 + source, flag)
        np.testing.assert_allclose(kp[target], expected, err_msg=AIC14.joints[target])
    np.testing.assert_allclose(record.boxes, [[1, 2, 31, 42]])
    assert record.areas[0] == pytest.approx(0.53 * 30 * 40)  # no area given


def test_coco17_sources_keep_their_own_17_joints_and_others_none(tmp_path: Path) -> None:
    raw = np.array(_numbered(17, 1)).reshape(17, 3)
    raw[3] = (0, 0, 0)  # left ear unlabelled
    path = _coco_json(tmp_path, list(JOINT_MAPS["coco17"].joints), [
        {"keypoints": raw.ravel().tolist(), "bbox": [1, 2, 30, 40]},
        {"keypoints": [0] * 51, "bbox": [40, 0, 10, 10], "iscrowd": 1}])
    (record,) = read_coco_layout(path, tmp_path / "img", JOINT_MAPS["coco17"])
    assert record.coco17 is not None and record.coco17.shape == (1, 17, 3)
    np.testing.assert_allclose(record.coco17[0], raw)  # COCO flags are the project's
    np.testing.assert_allclose(record.keypoints[0, 0], raw[6])  # AIC r_shoulder = COCO's 6
    crowd = _coco_json(tmp_path, list(JOINT_MAPS["crowdpose"].joints), [
        {"keypoints": _numbered(14, 1), "bbox": [1, 2, 30, 40]}])
    (other,) = read_coco_layout(crowd, tmp_path / "img", JOINT_MAPS["crowdpose"])
    assert other.coco17 is None


def test_coco17_leaves_neck_and_head_top_unlabelled_unless_asked(tmp_path: Path) -> None:
    kp = np.zeros((17, 3))
    kp[5], kp[6], kp[0] = (30, 20, 2), (20, 22, 1), (25, 10, 2)  # l_sho, r_sho, nose
    path = _coco_json(tmp_path, list(JOINT_MAPS["coco17"].joints), [
        {"keypoints": kp.ravel().tolist(), "bbox": [15, 5, 20, 30], "area": 321.0}])
    (plain,) = read_coco_layout(path, tmp_path / "img", JOINT_MAPS["coco17"])
    np.testing.assert_array_equal(plain.keypoints[0, [12, 13]], 0.0)  # head top, neck
    np.testing.assert_allclose(plain.keypoints[0, [0, 3]], [[20, 22, 1], [30, 20, 2]])
    assert plain.areas[0] == 321.0
    (derived,) = read_coco_layout(path, tmp_path / "img", JOINT_MAPS["coco17"],
                                  ReadOptions(neck_from_shoulders=True))
    np.testing.assert_allclose(derived.keypoints[0, 13], (25, 21, 1))
    np.testing.assert_array_equal(derived.keypoints[0, 12], 0.0)
    one_shoulder = kp.copy()
    one_shoulder[6] = 0.0
    one = to_aic14(one_shoulder[None], JOINT_MAPS["coco17"], neck_from_shoulders=True)
    np.testing.assert_array_equal(one[0, 13], 0.0)  # one shoulder only: no neck


def test_posetrack_proxy_is_opt_in_and_ignore_polygons_are_masked(tmp_path: Path) -> None:
    jm = JOINT_MAPS["posetrack"]
    regions = {"ignore_regions_x": [[50, 70, 70, 50]], "ignore_regions_y": [[5, 5, 25, 25]]}
    path = _coco_json(tmp_path, list(jm.joints), [
        {"keypoints": _numbered(17, 1), "bbox": [1, 2, 30, 40], "iscrowd": False}], regions)
    (plain,) = read_coco_layout(path, tmp_path / "img", jm)
    assert plain.keypoints[0, 13, 2] == 0
    (proxied,) = read_coco_layout(path, tmp_path / "img", jm, ReadOptions(proxies=True))
    np.testing.assert_allclose(proxied.keypoints[0, 13], (11, 21, 2))  # head_bottom
    mask = RecordSource([plain]).load(0).ignore
    assert mask is not None and mask[8:22, 53:67].all() and not mask[:, :45].any()


def test_crowds_and_people_without_aic_joints_become_ignore_regions(tmp_path: Path) -> None:
    face_only = np.zeros((17, 3))
    face_only[0] = (60, 50, 2)  # a nose: no AIC-14 joint
    person = np.zeros((17, 3))
    person[5] = (20, 20, 2)
    path = _coco_json(tmp_path, list(JOINT_MAPS["coco17"].joints), [
        {"keypoints": person.ravel().tolist(), "bbox": [10, 10, 20, 30], "iscrowd": 0},
        {"keypoints": [0] * 51, "bbox": [40, 0, 10, 10], "iscrowd": 1,
         "segmentation": [[40, 0, 50, 0, 50, 10, 40, 10]]},
        {"keypoints": face_only.ravel().tolist(), "bbox": [55, 45, 10, 10], "iscrowd": 0},
        {"keypoints": [0] * 51, "bbox": [0, 50, 8, 8], "iscrowd": 0, "num_keypoints": 0}])
    (record,) = read_coco_layout(path, tmp_path / "img", JOINT_MAPS["coco17"])
    assert record.num_people == 1 and len(record.ignore) == 3
    sample = RecordSource([record]).load(0)
    assert sample.ignore is not None
    assert sample.ignore[0:10, 40:50].all() and sample.ignore[45:55, 55:65].all()
    assert sample.ignore[50:58, 0:8].all() and not sample.ignore[10:40, 10:30].any()
    gt = to_coco([record])
    assert [a["iscrowd"] for a in gt["annotations"]] == [0, 1, 1, 1]
    assert [a["num_keypoints"] for a in gt["annotations"]] == [1, 0, 0, 0]


def test_mpii_list_is_one_based_and_grouped_per_image(tmp_path: Path) -> None:
    joints = [[11.0 + k, 21.0 + k] for k in range(16)]
    vis = [1] * 16
    vis[0] = 0  # right ankle not labelled (MPII writes -1, -1)
    joints[0] = [-1.0, -1.0]
    entries = [{"image": "m.jpg", "joints": joints, "joints_vis": vis, "center": [0, 0],
                "scale": 1.0}] * 2
    (tmp_path / "mpii.json").write_text(json.dumps(entries))
    _image(tmp_path / "img" / "m.jpg")
    (record,) = read_mpii_list(tmp_path / "mpii.json", tmp_path / "img", JOINT_MAPS["mpii"])
    assert record.num_people == 2 and (record.width, record.height) == (W, H)
    kp = record.keypoints[0]
    np.testing.assert_allclose(kp[AIC14.joint("right_shoulder")], (22, 32, 2))  # MPII 12
    np.testing.assert_allclose(kp[AIC14.joint("neck")], (18, 28, 2))  # upper neck, MPII 8
    np.testing.assert_array_equal(kp[AIC14.joint("right_ankle")], 0.0)


def test_human_art_prefix_is_stripped(tmp_path: Path) -> None:
    path = _coco_json(tmp_path, list(JOINT_MAPS["coco17"].joints),
                      [{"keypoints": _numbered(21), "bbox": [1, 2, 3, 4]}],
                      {"file_name": "HumanArt/images/real/a.jpg"})
    (record,) = read_coco_layout(path, tmp_path / "img", JOINT_MAPS["coco17"],
                                 strip_prefix="HumanArt/images/")
    assert record.path == tmp_path / "img" / "real" / "a.jpg"


def test_docs_render_the_joint_table() -> None:
    assert markdown_table() in (ROOT / "docs" / "data.md").read_text()


def test_coco_reader_gives_aic14_on_request_with_face_only_people_ignored(tmp_path: Path
                                                                          ) -> None:
    from service.data.coco import CocoKeypoints
    from service.skeleton import COCO18

    kp = np.zeros((17, 3))
    kp[5], kp[6] = (30, 20, 2), (20, 22, 1)
    face = np.zeros((17, 3))
    face[0] = (60, 50, 2)
    path = _coco_json(tmp_path, list(JOINT_MAPS["coco17"].joints), [
        {"keypoints": kp.ravel().tolist(), "bbox": [15, 5, 20, 30], "num_keypoints": 2},
        {"keypoints": face.ravel().tolist(), "bbox": [55, 45, 10, 10], "num_keypoints": 1}])
    aic = CocoKeypoints(path, tmp_path / "img", skeleton=AIC14)
    assert aic.skeleton is AIC14
    sample = aic.load(0)
    assert sample.keypoints.shape == (1, 14, 3)
    np.testing.assert_allclose(sample.keypoints[0, [0, 3]], [[20, 22, 1], [30, 20, 2]])
    np.testing.assert_array_equal(sample.keypoints[0, 12:], 0.0)  # no head top, no neck
    assert sample.ignore is not None and sample.ignore[45:55, 55:65].all()
    coco18 = CocoKeypoints(path, tmp_path / "img").load(0)
    assert coco18.keypoints.shape == (2, 18, 3)  # the COCO-18 path keeps its derived neck
    np.testing.assert_allclose(coco18.keypoints[0, 17], (25, 21, 1))
    assert CocoKeypoints(path, tmp_path / "img", skeleton=COCO18).skeleton is COCO18
