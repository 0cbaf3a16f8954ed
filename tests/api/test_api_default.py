"""The service's default, as `make serve` runs it (no model named), over real HTTP on
scikit-image's astronaut: movenet-fields (MoveNet's trunk with the field head trained here),
Algorithm 1 in the boxes of its own box head, COCO's 17 named keypoints.

Expected positions: MediaPipe 0.10.14's own pipeline on the same photo (tests/api/
test_api_topdown.py); a different network with its own idea of a joint, so within 25 px.
"""

from __future__ import annotations

import httpx
import numpy as np
from api_helpers import Server

from service.skeleton import COCO18

# Her left shoulder (her right one sits behind the helmet ring, where the networks disagree).
MEDIAPIPE_ASTRONAUT = {"left_shoulder": (306.24, 256.64)}


def test_default_is_the_one_pass_movenet_fields_network(default_server: Server) -> None:
    body = httpx.get(f"{default_server.url}/v1/models", timeout=30).json()
    assert [(m["name"], m["kind"]) for m in body["models"]] == [("movenet-fields", "pose")]
    assert body["parser"] == "boxes"


def test_default_answers_17_named_coco_keypoints(default_server: Server,
                                                 astronaut_png: bytes) -> None:
    response = httpx.post(f"{default_server.url}/v1/poses",
                          files={"image": ("a.png", astronaut_png, "image/png")}, timeout=120)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"]["name"] == "movenet-fields"
    assert body["keypoint_names"] == list(COCO18.joints[:17])
    (person,) = body["persons"]
    assert person["box_source"] == "box_head"  # no detector: its own box head
    named = dict(zip(body["keypoint_names"], person["keypoints"], strict=True))
    for name, (x, y) in MEDIAPIPE_ASTRONAUT.items():
        assert named[name] is not None, name
        assert np.hypot(named[name][0] - x, named[name][1] - y) <= 25.0, (name, named[name])
    nose, left_eye, right_eye = (np.array(named[n][:2]) for n in ("nose", "left_eye",
                                                                   "right_eye"))
    assert right_eye[0] < nose[0] < left_eye[0]  # facing the camera: her right on our left
    shoulders_y = (named["left_shoulder"][1] + named["right_shoulder"][1]) / 2
    assert nose[1] < shoulders_y - 50
