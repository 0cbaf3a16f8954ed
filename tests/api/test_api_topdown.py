"""BOXPOSE_POSE_MODEL=blazepose-topdown served over real HTTP, on scikit-image's astronaut.

Expected positions: MediaPipe 0.10.14's own pipeline on the same photo (see
tests/runtime/test_topdown.py for how they were measured).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from api_helpers import Server, settings_for

from service.runtime.model_store import MODEL_STORE
from service.skeleton import AIC14, COCO18

MEDIAPIPE_ASTRONAUT = {
    "left_shoulder": (306.24, 256.64), "right_shoulder": (112.66, 239.95),
    "left_elbow": (322.55, 374.95), "right_elbow": (64.60, 413.61),
    "left_hip": (241.87, 501.72), "right_hip": (128.27, 531.39),
}  # fmt: skip


@pytest.fixture(scope="module")
def topdown_server() -> Iterator[Server]:
    # the detector left unset: the topdown manifest's own (detector-union)
    settings = settings_for(MODEL_STORE, pose_model="blazepose-topdown")
    values = settings.model_dump(exclude={"detector_model"}, exclude_unset=True)
    running = Server(type(settings).model_validate(values)).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def coco_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The bundled landmark model as `boxpose import blazepose --skeleton coco18` writes it:
    the same TorchScript file, a manifest whose skeleton is COCO-18."""
    root = tmp_path_factory.mktemp("coco_topdown")  # copies: the store refuses links out of it
    shutil.copytree(MODEL_STORE / "blazepose-detector", root / "blazepose-detector")
    shutil.copytree(MODEL_STORE / "blazepose-topdown", root / "blazepose-topdown-coco")
    manifest = json.loads((MODEL_STORE / "blazepose-topdown" / "manifest.json").read_text())
    manifest.update(name="blazepose-topdown-coco", skeleton=COCO18.to_dict())
    (root / "blazepose-topdown-coco" / "manifest.json").write_text(json.dumps(manifest))
    settings = settings_for(root, pose_model="blazepose-topdown-coco")
    values = settings.model_dump(exclude={"detector_model"}, exclude_unset=True)
    running = Server(type(settings).model_validate(values)).start()
    yield running
    running.stop()


def post(server: Server, png: bytes, boxes: list | None = None) -> httpx.Response:
    data = {"boxes": json.dumps(boxes)} if boxes is not None else None
    return httpx.post(f"{server.url}/v1/poses", files={"image": ("a.png", png, "image/png")},
                      data=data, timeout=60)  # fmt: skip


def test_served_astronaut_matches_mediapipe(topdown_server: Server, astronaut_png: bytes) -> None:
    response = post(topdown_server, astronaut_png)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"]["name"] == "blazepose-topdown"
    assert len(body["persons"]) == 1
    person = body["persons"][0]
    assert person["box_source"] == "detector" and 0.5 <= person["score"] <= 1
    assert len(person["keypoints"]) == AIC14.num_joints
    for name, (x, y) in MEDIAPIPE_ASTRONAUT.items():
        kx, ky, score = person["keypoints"][AIC14.joint(name)]
        assert np.hypot(kx - x, ky - y) <= 10.0, (name, (kx, ky), (x, y))
        assert 0 <= score <= 1


def test_served_client_boxes_in_order(topdown_server: Server, astronaut_png: bytes) -> None:
    boxes = [[0.0, 0.0, 420.0, 512.0], [10.0, 20.0, 60.0, 70.0]]
    response = post(topdown_server, astronaut_png, boxes)
    assert response.status_code == 200, response.text
    persons = response.json()["persons"]
    assert [p["box"] for p in persons] == boxes
    assert all(p["box_source"] == "client" for p in persons)


def test_models_route_names_the_topdown_kind(topdown_server: Server) -> None:
    models = httpx.get(f"{topdown_server.url}/v1/models").json()["models"]
    assert [(m["name"], m["kind"]) for m in models] == [
        ("blazepose-topdown", "topdown"), ("detector-union", "detector")]
    assert models[0]["skeleton"]["joints"] == list(AIC14.joints)


def test_coco_skeleton_topdown_answers_17_named_keypoints(coco_server: Server, astronaut_png: bytes
                                                          ) -> None:  # fmt: skip
    body = post(coco_server, astronaut_png).json()
    assert body["keypoint_names"] == list(COCO18.joints[:17])
    (person,) = body["persons"]
    named = dict(zip(body["keypoint_names"], person["keypoints"], strict=True))
    for name, (x, y) in MEDIAPIPE_ASTRONAUT.items():  # the same landmarks, read by name
        assert np.hypot(named[name][0] - x, named[name][1] - y) <= 10.0, name
    nose, left_eye, right_eye = (np.array(named[n][:2]) for n in ("nose", "left_eye",
                                                                   "right_eye"))
    shoulders_y = (named["left_shoulder"][1] + named["right_shoulder"][1]) / 2
    assert nose[1] < shoulders_y - 50  # the face well above the shoulders
    assert right_eye[0] < nose[0] < left_eye[0]  # facing the camera: her right on our left
    assert max(left_eye[1], right_eye[1]) < nose[1]  # eyes above the nose
