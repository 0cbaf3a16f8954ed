"""HTTP request -> image bytes and client boxes: body limits, multipart or raw image, box checks.

The body is read once with a byte limit (413 before anything is parsed); a multipart body is
then parsed from those bytes. Boxes are JSON `[[x1, y1, x2, y2], ...]` in the image's pixels.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.types import Message

from service.api.errors import ApiError
from service.config import ImageLimits
from service.runtime.images import is_supported_media_type
from service.types import Box, BoxSource

MAX_SCALES = 4
SCALE_RANGE = (0.25, 2.0)


@dataclass(frozen=True)
class Upload:
    images: list[bytes]
    boxes: list[list[Box] | None]  # per image; None = not given (the detector runs)


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"request body over the limit of {limit} bytes")


async def read_upload(request: Request, limits: ImageLimits, many: bool) -> Upload:
    """multipart/form-data (`image` parts, optional `boxes`) or a raw image/* body."""
    content_type = request.headers.get("content-type", "").lower()
    media = content_type.split(";")[0].strip()
    if media == "multipart/form-data":
        body = await read_body(request, limits.max_body_bytes)
        return await _from_multipart(request, body, limits, many)
    if is_supported_media_type(media) or media == "application/octet-stream":
        body = await read_body(request, limits.max_body_bytes)
        raw_boxes = request.query_params.get("boxes")
        boxes = parse_boxes(raw_boxes, limits.max_boxes) if raw_boxes else None
        return Upload([body], [boxes])
    raise ApiError(
        415, "unsupported_media_type",
        f"content type {media or 'none'!r}: send multipart/form-data with an 'image' part, "
        "or a raw image/jpeg, image/png, image/webp or image/bmp body",
    )  # fmt: skip


async def _from_multipart(request: Request, body: bytes, limits: ImageLimits, many: bool) -> Upload:
    replay = Request(request.scope, replay_body(body))
    max_files = limits.max_images if many else 1
    try:
        form = await replay.form(max_files=max_files, max_fields=16)
    except Exception as exc:  # noqa: BLE001 - starlette raises HTTPException or parser errors
        if "Too many files" in str(exc):  # starlette's count of file parts, past max_files
            raise _too_many_images(max_files) from exc
        raise ApiError(400, "bad_request", f"malformed multipart body: {exc}") from exc
    parts = [*form.getlist("image"), *form.getlist("images")]
    images = [await _part_bytes(p) for p in parts]
    if not images:
        raise ApiError(400, "bad_request", "the multipart body has no 'image' part")
    if len(images) > max_files:  # image parts sent as plain fields, not files
        raise _too_many_images(max_files)
    raw_boxes = form.get("boxes")
    text = (await _part_bytes(raw_boxes)).decode("utf-8", "replace") if raw_boxes else None
    if not many:
        return Upload(images, [parse_boxes(text, limits.max_boxes) if text else None])
    return Upload(images, parse_batch_boxes(text, len(images), limits.max_boxes))


def _too_many_images(max_files: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"at most {max_files} image(s) per request")


def replay_body(body: bytes) -> Any:
    """An ASGI `receive` that gives an already-read body once, then a disconnect: so a request
    whose body was read (to check its size) can still be parsed as a form."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _part_bytes(part: UploadFile | str | None) -> bytes:
    if part is None:
        return b""
    if isinstance(part, str):
        return part.encode()
    return await part.read()


def parse_boxes(text: str, max_boxes: int) -> list[Box]:
    """JSON `[[x1, y1, x2, y2], ...]` -> client boxes; 422 unless each is 4 finite numbers with
    x2 > x1 and y2 > y1, and there are at most `max_boxes`."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _bad_boxes(f"boxes are not valid JSON ({exc.msg})") from exc
    return _boxes_from(data, max_boxes)


def parse_batch_boxes(text: str | None, count: int, max_boxes: int) -> list[list[Box] | None]:
    """JSON list with one entry per image (null or a box list) -> boxes per image."""
    if text is None:
        return [None] * count
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _bad_boxes(f"boxes are not valid JSON ({exc.msg})") from exc
    if not isinstance(data, list) or len(data) != count:
        raise _bad_boxes(f"boxes must be a list with one entry (null or boxes) per image ({count})")
    return [None if entry is None else _boxes_from(entry, max_boxes) for entry in data]


def _boxes_from(data: object, max_boxes: int) -> list[Box]:
    if not isinstance(data, list):
        raise _bad_boxes("boxes must be a JSON list of [x1, y1, x2, y2]")
    if len(data) > max_boxes:
        raise _bad_boxes(f"{len(data)} boxes, at most {max_boxes}")
    boxes = []
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) != 4 or not all(_finite(v) for v in row):
            raise _bad_boxes(f"box {i}: expected four finite numbers [x1, y1, x2, y2]")
        x1, y1, x2, y2 = (float(v) for v in row)
        if x2 <= x1 or y2 <= y1:
            raise _bad_boxes(f"box {i}: needs x2 > x1 and y2 > y1")
        boxes.append(Box(x1, y1, x2, y2, 1.0, BoxSource.CLIENT))
    return boxes


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _bad_boxes(message: str) -> ApiError:
    return ApiError(422, "invalid_boxes", message)


def parse_scales(text: str | None) -> tuple[float, ...] | None:
    """ "0.7,1.0,1.3" -> (0.7, 1.0, 1.3); 422 for anything else."""
    if text is None or not text.strip():
        return None
    try:
        scales = tuple(float(s) for s in text.split(","))
    except ValueError as exc:
        raise ApiError(422, "invalid_parameter", f"scales: not numbers: {text!r}") from exc
    low, high = SCALE_RANGE
    if len(scales) > MAX_SCALES or not all(math.isfinite(s) and low <= s <= high for s in scales):
        raise ApiError(
            422, "invalid_parameter", f"scales: 1 to {MAX_SCALES} values in [{low}, {high}]"
        )
    return tuple(sorted(set(scales)))
