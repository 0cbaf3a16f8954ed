"""Every error status over real HTTP, each with its JSON body {"error": {"code", "message"}}."""

from __future__ import annotations

import json
import struct
import threading
import zlib
from collections.abc import Callable

import httpx
import pytest
from api_helpers import Server
from runtime_fakes import SceneData, encode

from service.runtime.factory import load_pipeline
from service.runtime.protocol import PoseModel


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    return error


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height: a decompression bomb's header, no real pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))  # fmt: skip


def post(server: Server, content: bytes, ctype: str = "image/png", **kw: object) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/poses", files={"image": ("x", content, ctype)}, timeout=30,
                      **kw)  # type: ignore[arg-type]  # fmt: skip


def test_400_undecodable_image(server: Server, scene: SceneData) -> None:
    assert_error(post(server, b"this is not an image at all"), 400, "invalid_image")
    truncated = scene.jpeg()[:300]
    assert_error(post(server, truncated, "image/jpeg"), 400, "invalid_image")
    assert_error(httpx.post(f"{server.url}/v1/poses", files={"other": ("x", b"1")}), 400,
                 "bad_request")  # fmt: skip


def test_413_body_over_the_limit(make_server: Callable[..., Server], scene: SceneData) -> None:
    server = make_server(max_body_bytes=50_000)
    body = b"\xff\xd8\xff" + b"\x00" * 60_000
    assert_error(post(server, body, "image/jpeg"), 413, "payload_too_large")
    raw = httpx.post(f"{server.url}/v1/poses", content=body, headers={"Content-Type": "image/jpeg"})
    assert_error(raw, 413, "payload_too_large")


@pytest.mark.parametrize("count", [3, 4, 7])
def test_413_more_images_than_max_images(make_server: Callable[..., Server], scene: SceneData,
                                         count: int) -> None:  # fmt: skip
    server = make_server(max_images=2)

    def post_batch(n: int, name: str = "image") -> httpx.Response:
        files = [(name, (f"{i}.png", scene.png(), "image/png")) for i in range(n)]
        return httpx.post(f"{server.url}/v1/poses:batch", files=files, timeout=30)

    assert len(post_batch(2).json()["results"]) == 2  # at the limit: answered
    error = assert_error(post_batch(count), 413, "payload_too_large")
    assert "at most 2 image" in error["message"], error  # however far over the limit
    assert_error(post_batch(count, "images"), 413, "payload_too_large")  # the other part name
    files = [("image", (f"{i}.png", scene.png(), "image/png")) for i in range(count - 1)]
    single = httpx.post(f"{server.url}/v1/poses", files=files, timeout=30)  # one image only
    assert "at most 1 image" in assert_error(single, 413, "payload_too_large")["message"]


def test_413_pixel_count_and_decompression_bomb(server: Server) -> None:
    # Over the service's limit (40 Mpx): refused from the header, before any decode.
    error = assert_error(post(server, png_header_only(8000, 6000)), 413, "image_too_large")
    assert "8000x6000" in error["message"]
    # Far over Pillow's own bomb limit: also 413, never a 500.
    assert_error(post(server, png_header_only(60_000, 60_000)), 413, "image_too_large")


def test_415_unsupported_type(server: Server, scene: SceneData) -> None:
    text = httpx.post(f"{server.url}/v1/poses", content=b"{}",
                      headers={"Content-Type": "application/json"})  # fmt: skip
    assert_error(text, 415, "unsupported_media_type")
    gif = encode(scene.image, "GIF")
    assert_error(post(server, gif, "image/gif"), 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "boxes",
    ['[[1, 2, 3]]', '[[10, 10, 5, 50]]', '[[10, 50, 40, 50]]', '[[1, 2, "3", 4]]',
     '[[0, 0, NaN, 9]]', '[[0, 0, true, 9]]', '{"x1": 1}', "not json",
     json.dumps([[0, 0, 10, 10]] * 101)],
)  # fmt: skip
def test_422_malformed_boxes(server: Server, scene: SceneData, boxes: str) -> None:
    response = post(server, scene.png(), data={"boxes": boxes})
    assert_error(response, 422, "invalid_boxes")


def test_422_bad_parameters(server: Server, scene: SceneData) -> None:
    assert_error(post(server, scene.png(), params={"scales": "0.1"}), 422, "invalid_parameter")
    assert_error(post(server, scene.png(), params={"scales": "a,b"}), 422, "invalid_parameter")
    assert_error(post(server, scene.png(), params={"score_threshold": "2"}), 422,
                 "invalid_request")  # fmt: skip


def test_401_api_key(make_server: Callable[..., Server], scene: SceneData) -> None:
    server = make_server(api_key="s3cret")
    assert_error(post(server, scene.png()), 401, "unauthorized")
    assert_error(post(server, scene.png(), headers={"X-API-Key": "wrong"}), 401, "unauthorized")
    assert_error(httpx.get(f"{server.url}/v1/models"), 401, "unauthorized")
    assert post(server, scene.png(), headers={"X-API-Key": "s3cret"}).status_code == 200
    bearer = {"Authorization": "Bearer s3cret"}
    assert httpx.get(f"{server.url}/v1/models", headers=bearer).status_code == 200
    assert httpx.get(f"{server.url}/healthz").status_code == 200  # probes need no key
    assert httpx.get(f"{server.url}/metrics").status_code == 200


def test_503_while_starting(make_server: Callable[..., Server], store, scene: SceneData) -> None:
    release = threading.Event()

    def slow_factory() -> PoseModel:
        release.wait(30)
        return load_pipeline("pose-fixed", "detector-fixed", "cpu", store)

    server = make_server(factory=slow_factory, wait_ready=False)
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    error = assert_error(httpx.get(f"{server.url}/readyz"), 503, "not_ready")
    assert "starting" in error["message"]
    response = post(server, scene.png())
    assert_error(response, 503, "not_ready")
    assert response.headers["retry-after"] == "1"
    release.set()
    for _ in range(500):
        if server.runtime.ready:
            break
        threading.Event().wait(0.01)
    assert httpx.get(f"{server.url}/readyz").status_code == 200
    assert post(server, scene.png()).status_code == 200


def test_503_when_models_fail_to_load(make_server: Callable[..., Server]) -> None:
    server = make_server(pose_model="no-such-model", wait_ready=False)
    for _ in range(500):
        if server.runtime.state == "failed":
            break
        threading.Event().wait(0.01)
    error = assert_error(httpx.get(f"{server.url}/readyz"), 503, "not_ready")
    assert "no-such-model" in error["message"]
    assert_error(httpx.get(f"{server.url}/healthz"), 503, "startup_failed")


def test_404_is_json(server: Server) -> None:
    assert_error(httpx.get(f"{server.url}/nope"), 404, "not_found")
