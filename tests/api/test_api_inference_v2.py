"""The Open Inference Protocol (KServe v2) over real HTTP, driven by Triton's own client
(tritonclient[http]): it lists the models, reads their metadata and gets keypoints for a photo;
errors answer `{"error": "..."}`; the API key and the limits of /v1 hold."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pytest
from api_helpers import Server

from service.config import Settings
from service.skeleton import COCO17_JOINTS

httpclient = pytest.importorskip("tritonclient.http", reason="tritonclient[http] is the client")
InferenceServerException = pytest.importorskip("tritonclient.utils").InferenceServerException


DEFAULT = Settings.model_fields["pose_model"].default  # the model `make serve` serves


def client_of(server: Server, **kw: object) -> httpclient.InferenceServerClient:
    return httpclient.InferenceServerClient(server.url.removeprefix("http://"), **kw)


def image_input(png: bytes, binary: bool = True) -> httpclient.InferInput:
    tensor = httpclient.InferInput("IMAGE", [1], "BYTES")
    tensor.set_data_from_numpy(np.array([png], dtype=np.object_), binary_data=binary)
    return tensor


def test_client_lists_reads_metadata_and_gets_keypoints(default_server: Server,
                                                        astronaut_png: bytes) -> None:  # fmt: skip
    client = client_of(default_server)
    assert client.is_server_live() and client.is_server_ready()
    assert client.get_server_metadata()["name"] == "boxpose"
    (entry,) = client.get_model_repository_index()
    assert (entry["name"], entry["state"]) == (DEFAULT, "READY")
    assert client.is_model_ready(DEFAULT)
    meta = client.get_model_metadata(DEFAULT)
    assert meta["parameters"]["keypoint_names"] == list(COCO17_JOINTS)
    assert {t["name"]: (t["datatype"], t["shape"]) for t in meta["outputs"]} == {
        "KEYPOINTS": ("FP32", [-1, 17, 3]), "SCORES": ("FP32", [-1]), "BOXES": ("FP32", [-1, 4])}
    assert [t["name"] for t in meta["inputs"]] == ["IMAGE", "BOXES"]
    result = client.infer(DEFAULT, [image_input(astronaut_png)])
    keypoints, scores, boxes = (result.as_numpy(n) for n in ("KEYPOINTS", "SCORES", "BOXES"))
    assert keypoints.shape == (1, 17, 3) and scores.shape == (1,) and boxes.shape == (1, 4)
    assert scores[0] > 0
    # her left shoulder, where /v1/poses finds it (tests/api/test_api_default.py)
    shoulder = keypoints[0, COCO17_JOINTS.index("left_shoulder")]
    assert shoulder[2] > 0 and np.hypot(*(shoulder[:2] - (306.24, 256.64))) < 25


def test_client_boxes_are_answered_one_to_one(default_server: Server, astronaut_png: bytes) -> None:
    client = client_of(default_server)
    boxes = httpclient.InferInput("BOXES", [2, 4], "FP32")
    boxes.set_data_from_numpy(np.array([[150, 60, 460, 512], [0, 0, 40, 40]], np.float32))
    outputs = [httpclient.InferRequestedOutput("BOXES", binary_data=False),
               httpclient.InferRequestedOutput("SCORES", binary_data=False)]
    result = client.infer(DEFAULT, [image_input(astronaut_png), boxes], outputs=outputs)
    np.testing.assert_allclose(result.as_numpy("BOXES"), [[150, 60, 460, 512], [0, 0, 40, 40]])
    assert result.as_numpy("SCORES")[0] > 0 and result.as_numpy("KEYPOINTS") is None


def test_json_request_with_base64_image(default_server: Server, astronaut_png: bytes) -> None:
    body = {"inputs": [{"name": "IMAGE", "shape": [1], "datatype": "BYTES",
                        "data": [base64.b64encode(astronaut_png).decode()]}], "id": "a1"}
    response = httpx.post(f"{default_server.url}/v2/models/{DEFAULT}/infer", json=body, timeout=60)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["id"] == "a1" and answer["model_name"] == DEFAULT
    assert [o["name"] for o in answer["outputs"]] == ["KEYPOINTS", "SCORES", "BOXES"]


@pytest.mark.parametrize(("path", "body", "status", "text"), [
    ("/v2/models/nope/infer", {}, 404, "no model 'nope'"),
    ("/v2/models/movenet-fields/versions/0/infer", {}, 404, "version '0'"),
    ("/v2/models/movenet-fields/infer", {"inputs": []}, 400, "inputs"),
    ("/v2/models/movenet-fields/infer", {"inputs": [{"name": "IMAGE", "shape": [1],
                                              "datatype": "BYTES", "data": ["aGVsbG8="]}]},
     400, "not a JPEG"),
    ("/v2/models/movenet-fields/infer", {"inputs": [
        {"name": "IMAGE", "shape": [1], "datatype": "BYTES", "data": ["aGVsbG8="]},
        {"name": "BOXES", "shape": [1, 4], "datatype": "FP32", "data": [5, 5, 1, 1]}]},
     422, "x2 > x1"),
])  # fmt: skip
def test_errors_answer_the_protocol_form(default_server: Server, path: str, body: dict[str, object],
                                         status: int, text: str) -> None:  # fmt: skip
    response = httpx.post(f"{default_server.url}{path}", json=body, timeout=30)
    assert response.status_code == status, response.text
    (key,) = response.json()
    assert key == "error" and text in response.json()["error"]


def test_client_sees_the_error_message(default_server: Server) -> None:
    with pytest.raises(InferenceServerException, match="no model 'nope'"):
        client_of(default_server).get_model_metadata("nope")


def test_api_key_and_body_limit_hold(make_server: Callable[..., Server], astronaut_png: bytes,
                                     store: Path) -> None:  # fmt: skip
    server = make_server(api_key="s3cret", max_body_bytes=4096)
    assert httpx.get(f"{server.url}/v2/health/live", timeout=10).status_code == 200
    response = httpx.get(f"{server.url}/v2/models/pose-fixed", timeout=10)
    assert response.status_code == 401 and "API key" in response.json()["error"]
    client = client_of(server)
    with pytest.raises(InferenceServerException, match="API key"):
        client.get_model_repository_index()
    keyed = {"X-API-Key": "s3cret"}
    assert client.get_model_repository_index(headers=keyed)[0]["name"] == "pose-fixed"
    with pytest.raises(InferenceServerException, match="over the limit"):
        client.infer("pose-fixed", [image_input(astronaut_png)], headers=keyed)
