"""WS /v1/stream: encoded frames in (binary JPEG, PNG, WebP or BMP messages) -> one JSON answer
per processed frame, with track ids (the first answer also names the keypoints).

The newest frame wins: while one frame is in the model, later ones replace each other in a
single slot, and the next answer says how many were dropped. The socket closes with a reason:
1008 for a missing or wrong API key (header, Bearer token or `api_key` query parameter, as
browsers cannot set headers on a WebSocket) or bad parameters, 1003 for a text message, 1007
for a frame that does not decode, 1013 while the service is not ready or is overloaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from dataclasses import dataclass, field

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from service.api.deps import PoseOptions
from service.api.errors import ApiError
from service.api.frames import FrameAnswerer
from service.api.inputs import parse_scales
from service.config import Settings
from service.runtime.batching import BatchFailed, Overloaded
from service.runtime.images import ImageError, decode_image
from service.runtime.lifecycle import Runtime

router = APIRouter(prefix="/v1", tags=["poses"])

POLICY, UNSUPPORTED, BAD_DATA, TRY_LATER = 1008, 1003, 1007, 1013
MAX_REASON_BYTES = 123  # RFC 6455: a close frame's reason


@dataclass
class _Slot:
    """The newest frame not yet taken, and how many it (and those before it) replaced."""

    data: bytes | None = None
    index: int = -1
    received: int = 0
    dropped: int = 0
    closed: str | None = None  # why the receiver stopped: "gone" or a close reason
    ready: asyncio.Event = field(default_factory=asyncio.Event)


@router.websocket("/stream")
async def stream(websocket: WebSocket) -> None:
    runtime: Runtime = websocket.app.state.runtime
    settings: Settings = websocket.app.state.settings
    await websocket.accept()
    if not _authorised(websocket, settings):
        await _close(websocket, POLICY, "wrong or missing API key (X-API-Key, Bearer or api_key)")
        return
    if not runtime.serving:
        await _close(websocket, TRY_LATER, f"the service is {runtime.state}")
        return
    try:
        options = _options(websocket, runtime, settings)
    except (ApiError, ValueError) as exc:
        await _close(websocket, POLICY, getattr(exc, "message", str(exc)))
        return
    metrics = runtime.metrics
    answerer = FrameAnswerer(runtime, options, metrics, "stream")
    slot = _Slot()
    receiver = asyncio.create_task(_receive(websocket, slot, runtime))
    metrics.open_streams.labels("stream").inc()
    try:
        code, reason = await _answer(websocket, slot, answerer, runtime)
        if code:
            await _close(websocket, code, reason)
    except (WebSocketDisconnect, RuntimeError):
        pass  # the client went away mid-send
    finally:
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await receiver
        metrics.open_streams.labels("stream").dec()


async def _receive(websocket: WebSocket, slot: _Slot, runtime: Runtime) -> None:
    """Keep only the newest frame; count the ones it replaces."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            slot.closed = "gone"
        elif message.get("bytes") is None:
            slot.closed = "send frames as binary messages (JPEG, PNG, WebP or BMP)"
        else:
            if slot.data is not None:
                slot.dropped += 1
                runtime.metrics.dropped_frames.labels("newest_wins").inc()
            slot.data, slot.index = message["bytes"], slot.received
            slot.received += 1
        slot.ready.set()
        if slot.closed:
            return


async def _answer(websocket: WebSocket, slot: _Slot, answerer: FrameAnswerer,
                  runtime: Runtime) -> tuple[int, str]:  # fmt: skip
    """Answer the newest frame, again and again; the close code and reason (0: just stop)."""
    start, limit = time.monotonic(), runtime.settings.max_pixels
    while True:
        await slot.ready.wait()
        slot.ready.clear()
        if slot.data is None:
            if slot.closed == "gone":
                return 0, ""
            if slot.closed:
                return UNSUPPORTED, slot.closed
            continue
        data, index, dropped = slot.data, slot.index, slot.dropped
        slot.data, slot.dropped = None, 0
        arrival = time.monotonic() - start
        try:
            image = await run_in_threadpool(decode_image, data, limit,
                                            runtime.pipeline.working_size)  # fmt: skip
        except ImageError as exc:
            return BAD_DATA, f"frame {index}: {exc}"
        try:
            line = await answerer.answer(await answerer.submit(image, arrival), index, arrival,
                                         image)  # fmt: skip
        except (Overloaded, BatchFailed) as exc:
            return TRY_LATER, str(exc)
        line["dropped"] = dropped
        line["image"] = {"width": image.width, "height": image.height}
        if answerer.answered == 1:
            line["keypoint_names"] = list(answerer.layout.names)
        await websocket.send_json(line)
        if slot.data is None and slot.closed:
            slot.ready.set()  # closed while this frame ran


def _authorised(websocket: WebSocket, settings: Settings) -> bool:
    if settings.api_key is None:
        return True
    given = websocket.headers.get("x-api-key") or websocket.query_params.get("api_key")
    bearer = websocket.headers.get("authorization", "")
    if given is None and bearer.lower().startswith("bearer "):
        given = bearer[7:].strip()
    expected = settings.api_key.get_secret_value()
    return given is not None and secrets.compare_digest(given.encode(), expected.encode())


def _options(websocket: WebSocket, runtime: Runtime, settings: Settings) -> PoseOptions:
    query = websocket.query_params
    threshold = query.get("score_threshold")
    score = settings.score_threshold if threshold is None else float(threshold)
    if not 0.0 <= score <= 1.0:
        raise ValueError("score_threshold: a number in [0, 1]")
    return PoseOptions(
        scales=parse_scales(query.get("scales")) or runtime.pipeline.config.scales,
        score_threshold=score, keep_neck=query.get("keep_neck", "false").lower() == "true",
    )  # fmt: skip


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    text = reason.encode()[:MAX_REASON_BYTES].decode("utf-8", "ignore")
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await websocket.close(code=code, reason=text)
