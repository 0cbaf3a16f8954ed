"""`boxpose synth --skeleton coco17`: COCO's 17 keypoints, the face placed on the drawn head
(left and right by view, hidden behind the head in a back view), read back as COCO-18."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from service.cli import main
from service.data.coco import CocoKeypoints
from service.data.synth import SynthConfig, generate_scene
from service.data.synth.face import FACE_JOINTS
from service.skeleton import AIC14, COCO18

COCO17 = list(COCO18.joints[:17])
NOSE, L_EYE, R_EYE, L_EAR, R_EAR = range(5)


def one_person(view: tuple[float, float, float], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(14, 3) AIC-14 keypoints and (5, 3) face of the first scene from `seed` on whose one
    person's head lies well inside the image."""
    cfg = SynthConfig(min_people=1, max_people=1, min_height=0.7, max_height=0.8,
                      p_distractor=0.0, kinds=("standing",), view_weights=view)  # fmt: skip
    for s in range(100 * seed, 100 * seed + 100):
        scene = generate_scene(np.random.default_rng(s), 240, 240, cfg)
        if len(scene.keypoints) != 1:
            continue
        top = scene.keypoints[0, AIC14.joint("head_top")]
        if top[2] > 0 and (top[:2] > 20).all() and (top[:2] < 220).all():
            return scene.keypoints[0], scene.face[0]
    raise AssertionError("no scene with a whole head")


@pytest.mark.parametrize("seed", range(4))
def test_face_sits_on_the_head_left_and_right_by_view(seed: int) -> None:
    body, face = one_person((1.0, 0.0, 0.0), seed)  # facing the camera
    top, neck = body[AIC14.joint("head_top"), :2], body[AIC14.joint("neck"), :2]
    labelled = face[:, 2] > 0
    assert labelled[:3].all()
    assert (np.linalg.norm(face[labelled, :2] - top, axis=1) < np.linalg.norm(top - neck)).all()
    assert face[L_EYE, 0] > face[R_EYE, 0]  # their left is the image's right
    assert face[NOSE, 1] > max(face[L_EYE, 1], face[R_EYE, 1])  # below the eyes (upright)
    assert (face[[NOSE, L_EYE, R_EYE], 2] == 2).all()
    body, face = one_person((0.0, 1.0, 0.0), seed)  # from behind
    assert face[L_EYE, 0] < face[R_EYE, 0]
    assert (face[[NOSE, L_EYE, R_EYE], 2] == 1).all()  # hidden by the head


def test_synth_writes_coco17_that_reads_as_coco18(tmp_path: Path) -> None:
    argv = ["synth", "--skeleton", "coco17", "--out", str(tmp_path / "c"), "--count", "3",
            "--seed", "8", "--width", "160", "--height", "128"]  # fmt: skip
    assert main(argv) == 0
    assert main([*argv[:2], "aic14", "--out", str(tmp_path / "a"), *argv[5:]]) == 0
    coco = json.loads((tmp_path / "c" / "annotations.json").read_text())
    aic = json.loads((tmp_path / "a" / "annotations.json").read_text())
    assert coco["categories"][0]["keypoints"] == COCO17
    assert len(coco["categories"][0]["skeleton"]) == 19
    assert len(coco["annotations"]) == len(aic["annotations"]) > 0
    for c, a in zip(coco["annotations"], aic["annotations"], strict=True):
        kp_c, kp_a = np.reshape(c["keypoints"], (17, 3)), np.reshape(a["keypoints"], (14, 3))
        for name in ("left_shoulder", "right_wrist", "left_ankle"):  # the same scene
            np.testing.assert_allclose(kp_c[COCO17.index(name)], kp_a[AIC14.joint(name)])
        assert c["num_keypoints"] == int((kp_c[:, 2] > 0).sum())
        assert c["bbox"] == a["bbox"]
    source = CocoKeypoints(tmp_path / "c" / "annotations.json", tmp_path / "c" / "images")
    keypoints, _, _ = source.annotations(0)
    assert source.skeleton is COCO18 and keypoints.shape[1:] == (18, 3)
    both = (keypoints[:, 5, 2] > 0) & (keypoints[:, 6, 2] > 0)
    np.testing.assert_allclose(keypoints[both, 17, :2], keypoints[both][:, 5:7, :2].mean(axis=1))
    assert len(FACE_JOINTS) == 5 and set(FACE_JOINTS) <= set(COCO17)
