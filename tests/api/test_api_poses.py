"""Pose routes over real HTTP: shapes, own boxes honoured, batch, render, models, health."""

from __future__ import annotations

import io
import json

import httpx
import numpy as np
from api_helpers import Server
from PIL import Image
from runtime_fakes import SceneData

from service.skeleton import AIC14


def post_image(
    server: Server, scene: SceneData, boxes: list | None = None, **params: str
) -> httpx.Response:
    files = {"image": ("scene.png", scene.png(), "image/png")}
    data = {"boxes": json.dumps(boxes)} if boxes is not None else None
    return httpx.post(f"{server.url}/v1/poses", files=files, data=data, params=params, timeout=30)


def assert_person_matches(person: dict, truth: np.ndarray, tolerance: float = 2.0) -> None:
    assert len(person["keypoints"]) == AIC14.num_joints
    for kp, gt in zip(person["keypoints"], truth, strict=True):
        assert kp is not None
        assert abs(kp[0] - gt[0]) <= tolerance and abs(kp[1] - gt[1]) <= tolerance, (kp, gt)


def test_detector_boxes_give_every_person(server: Server, scene: SceneData) -> None:
    response = post_image(server, scene)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == {"name": "pose-fixed", "version": "test-1"}
    assert body["image"] == {"width": 320, "height": 240}
    assert set(body["timings_ms"]) == {"queue", "detect", "forward", "parse", "total"}
    persons = sorted(body["persons"], key=lambda p: p["box"][0])
    assert len(persons) == 2
    for person, truth in zip(persons, scene.keypoints, strict=True):
        assert person["box_source"] == "detector"
        assert 0 < person["score"] <= 1
        assert_person_matches(person, truth)


def test_own_box_returns_that_person_only(server: Server, scene: SceneData) -> None:
    for index in (0, 1):
        response = post_image(server, scene, boxes=[scene.boxes[index]])
        assert response.status_code == 200, response.text
        persons = response.json()["persons"]
        assert len(persons) == 1
        assert persons[0]["box_source"] == "client"
        assert persons[0]["box"] == [round(v, 2) for v in scene.boxes[index]]
        assert_person_matches(persons[0], scene.keypoints[index])


def test_empty_box_list_means_nobody(server: Server, scene: SceneData) -> None:
    response = post_image(server, scene, boxes=[])
    assert response.status_code == 200
    assert response.json()["persons"] == []


def test_raw_image_body_with_query_boxes(server: Server, scene: SceneData) -> None:
    response = httpx.post(
        f"{server.url}/v1/poses", content=scene.jpeg(), headers={"Content-Type": "image/jpeg"},
        params={"boxes": json.dumps([scene.boxes[1]])}, timeout=30,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    persons = response.json()["persons"]
    assert len(persons) == 1 and persons[0]["box_source"] == "client"
    assert_person_matches(persons[0], scene.keypoints[1])


def test_score_threshold_and_scales_parameters(server: Server, scene: SceneData) -> None:
    assert post_image(server, scene, score_threshold="1.0").json()["persons"] == []
    response = post_image(server, scene, scales="0.7,1.0,1.3")
    assert response.status_code == 200
    assert len(response.json()["persons"]) == 2


def test_exif_orientation_is_applied(server: Server, scene: SceneData) -> None:
    rotated = np.ascontiguousarray(np.rot90(scene.image, k=1))  # stored rotated 90 deg CCW
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": the upright image is the scene again
    buffer = io.BytesIO()
    Image.fromarray(rotated).save(buffer, format="JPEG", exif=exif.tobytes())
    files = {"image": ("rotated.jpg", buffer.getvalue(), "image/jpeg")}
    response = httpx.post(f"{server.url}/v1/poses", files=files, timeout=30)
    assert response.status_code == 200
    assert response.json()["image"] == {"width": 320, "height": 240}


def test_batch_answers_each_image(server: Server, scene: SceneData) -> None:
    files = [("image", (f"{i}.png", scene.png(), "image/png")) for i in range(3)]
    boxes = [[scene.boxes[0]], None, [scene.boxes[1]]]
    response = httpx.post(f"{server.url}/v1/poses:batch", files=files,
                          data={"boxes": json.dumps(boxes)}, timeout=30)  # fmt: skip
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [len(r["persons"]) for r in results] == [1, 2, 1]
    assert_person_matches(results[0]["persons"][0], scene.keypoints[0])
    assert_person_matches(results[2]["persons"][0], scene.keypoints[1])


def test_render_returns_png_with_drawing(server: Server, scene: SceneData) -> None:
    files = {"image": ("scene.png", scene.png(), "image/png")}
    response = httpx.post(f"{server.url}/v1/render", files=files, timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    drawn = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))
    assert drawn.shape == scene.image.shape
    assert (drawn != scene.image).any(axis=2).mean() > 0.01  # boxes and skeletons changed pixels


def test_models_describe_loaded_models(server: Server) -> None:
    response = httpx.get(f"{server.url}/v1/models")
    assert response.status_code == 200
    models = {m["kind"]: m for m in response.json()["models"]}
    pose, detector = models["pose"], models["detector"]
    assert pose["name"] == "pose-fixed" and pose["stride"] == 4 and pose["device"] == "cpu"
    assert pose["skeleton"]["joints"] == list(AIC14.joints)
    assert pose["skeleton"]["limbs"] == [list(limb) for limb in AIC14.limbs]
    assert len(pose["sha256"]) == 64 and detector["skeleton"] is None


def test_health_readiness_metrics_and_openapi(server: Server) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "alive"}
    assert httpx.get(f"{server.url}/readyz").json() == {"status": "ready"}
    metrics = httpx.get(f"{server.url}/metrics")
    assert metrics.status_code == 200 and "boxpose_model_info{" in metrics.text
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    assert {"/v1/poses", "/v1/poses:batch", "/v1/render", "/v1/models"} <= set(paths)
    assert "multipart/form-data" in paths["/v1/poses"]["post"]["requestBody"]["content"]
