"""The OpenAPI document says exactly what the service accepts: schemathesis generates requests
from /openapi.json for every route and checks each answer against it (a live server with the
stand-in models; few examples per route, so it stays fast), `positive_data_acceptance` included:
every request the schema admits must be accepted.

What JSON Schema cannot say, the document names, and this file tells schemathesis what those
names hold (its documented extension points, not a narrowing of the checks):
- media types of files (`image/png`, `video/mp4`, ... as raw bodies and as multipart parts'
  `encoding.contentType`): small real files of each type;
- string formats: `boxes` (JSON [[x1, y1, x2, y2], ...] with x2 > x1, y2 > y1), `batch-boxes`
  (one entry per image part: schemathesis sends one part per encoded property) and
  `base64-image` (a v2 IMAGE tensor's element);
- a v2 BOXES tensor's rows, whose shape is [N, 4] and corners ordered (`as_documented`).
And one of schemathesis' own: it draws a single file for an array of files with an encoding
(POST /v1/poses:batch's `image`) and would send it as a text field: it goes as a one-file list.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import av
import numpy as np
import pytest
from api_helpers import Server
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from service.api.routes.poses import IMAGE_TYPES
from service.api.routes.video import RAW_TYPES

schemathesis = pytest.importorskip("schemathesis")
checks = schemathesis.checks
FailureGroup = pytest.importorskip("schemathesis.core.failures").FailureGroup

CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.response_schema_conformance, checks.content_type_conformance,
          checks.response_headers_conformance, checks.positive_data_acceptance]  # fmt: skip
EXAMPLES = 8  # per route
PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "image/bmp": "BMP"}
# container, codec of each video media type the route lists
VIDEO_FORMATS = {"video/mp4": ("mp4", "mpeg4"), "video/webm": ("webm", "libvpx"),
                 "video/quicktime": ("mov", "mpeg4"), "video/x-matroska": ("matroska", "mpeg4"),
                 "video/x-msvideo": ("avi", "mpeg4")}  # fmt: skip


def image_file(media: str, width: int, height: int, shade: int) -> bytes:
    pixels = np.full((height, width, 3), shade, dtype=np.uint8)
    pixels[height // 4: height // 2, width // 3: width // 2] = 255 - shade
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=PIL_FORMATS[media])
    return buffer.getvalue()


def video_file(media: str, frames: int = 2, size: int = 32) -> bytes:
    container_format, codec = VIDEO_FORMATS[media]
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=10)
        stream.height = stream.width = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            rgb = np.full((size, size, 3), 40 * i + 60, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        container.mux(stream.encode())
    return buffer.getvalue()


def images(media: str) -> st.SearchStrategy[bytes]:
    return st.builds(image_file, st.just(media), st.integers(8, 96), st.integers(8, 96),
                     st.integers(0, 255))  # fmt: skip


@st.composite
def box_lists(draw: st.DrawFn) -> list[list[float]]:
    """0 to 4 boxes [x1, y1, x2, y2] with x2 > x1 and y2 > y1 (any finite place)."""
    corner = st.floats(-1e4, 1e4, allow_nan=False)
    side = st.floats(0.5, 1e4, allow_nan=False)
    boxes = []
    for _ in range(draw(st.integers(0, 4))):
        x, y, w, h = draw(corner), draw(corner), draw(side), draw(side)
        boxes.append([x, y, x + w, y + h])
    return boxes


for _media in IMAGE_TYPES:
    schemathesis.openapi.media_type(_media, images(_media))
for _media in RAW_TYPES:
    schemathesis.openapi.media_type(_media, st.just(video_file(_media)))
schemathesis.openapi.format("boxes", box_lists().map(json.dumps))
schemathesis.openapi.format("batch-boxes", st.one_of(st.none(), box_lists()).map(
    lambda entry: json.dumps([entry])))  # fmt: skip
schemathesis.openapi.format("base64-image", st.sampled_from(IMAGE_TYPES).flatmap(images).map(
    lambda data: base64.b64encode(data).decode()))  # fmt: skip


def as_documented(case: Any) -> None:
    """What the descriptions say and JSON Schema cannot: a v2 BOXES tensor has shape [N, 4]
    for its N rows, each row's corners ordered (x2 > x1, y2 > y1). And an array of files
    drawn as one file is sent as a one-file list."""
    body = case.body if isinstance(case.body, dict) else {}
    if isinstance(body.get("image"), bytes) and case.operation.path.endswith(":batch"):
        body["image"] = [body["image"]]
    for tensor in body.get("inputs") or []:
        if isinstance(tensor, dict) and tensor.get("name") == "BOXES":
            rows = [[*ordered(r[0], r[2]), *ordered(r[1], r[3])] for r in tensor["data"]]
            tensor["data"] = [[x1, y1, x2, y2] for x1, x2, y1, y2 in rows]
            tensor["shape"] = [len(rows), 4]


def ordered(a: float, b: float) -> tuple[float, float]:
    """(low, high) with low < high, both within [a, b]'s range (a zero-size side grows inward)."""
    low, high = min(a, b), max(a, b)
    if low < high:
        return low, high
    return (low / 2 - 1, high) if low > 0 else (low, high / 2 + 1)


@pytest.fixture(scope="module")
def api_schema(server: Server) -> Any:
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json")


def failures_of(operation: Any, **fixed: Any) -> list[str]:
    """Every distinct failure schemathesis finds on one route (empty: none)."""
    found: list[str] = []

    @given(case=operation.as_strategy(**fixed))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def run(case: Any) -> None:
        as_documented(case)
        try:
            case.call_and_validate(checks=CHECKS)
        except (Exception, FailureGroup) as exc:  # noqa: BLE001 - a check's failure, named below
            text = f"{operation.label}: {type(exc).__name__}: {str(exc)[:600]}"
            if text not in found:
                found.append(text)

    run()
    return found


def test_every_route_answers_as_documented(api_schema: Any) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    labels = {op.label for op in operations}
    assert {"POST /v1/poses", "POST /v1/poses:batch", "POST /v1/poses:video",
            "POST /v2/models/{name}/infer", "GET /v2/health/ready"} <= labels  # fmt: skip
    failures = [f for op in operations for f in failures_of(op)]
    assert not failures, "\n\n".join(failures)


def test_v2_inference_bodies_of_the_served_model_are_accepted(api_schema: Any,
                                                               server: Server) -> None:
    """Generated names are other models (404, rightly): here every body reaches the model."""
    served = server.runtime.pipeline.pose.name
    operation = api_schema["/v2/models/{name}/infer"]["POST"]
    failures = failures_of(operation, path_parameters={"name": served})
    assert not failures, "\n\n".join(failures)


def test_a_box_the_schema_cannot_refuse_is_refused_by_the_server(server: Server) -> None:
    """Why `boxes` is a named format: x2 <= x1 is a well-formed JSON list the server refuses."""
    import httpx

    png = image_file("image/png", 32, 32, 90)
    response = httpx.post(f"{server.url}/v1/poses", files={"image": ("a.png", png, "image/png")},
                          data={"boxes": "[[10, 10, 5, 20]]"}, timeout=30)  # fmt: skip
    assert response.status_code == 422
