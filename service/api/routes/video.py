"""POST a video -> NDJSON: one line of tracked poses per processed frame, then a summary.

The video is read whole (BOXPOSE_MAX_VIDEO_BYTES), probed and its first frame decoded before
the answer starts, so refusals are plain JSON errors (413, 415, 400). Frames then flow through
the batch worker `max_queued_frames` at a time; a decode error later ends the stream with an
`{"error": ...}` line, and a client that disconnects cancels its queued frames.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from service.api.deps import Authorised, MetricsDep, Options, ServingRuntime
from service.api.errors import ApiError
from service.api.frames import FrameAnswerer, cancel
from service.api.inputs import read_body, replay_body
from service.api.schemas import ERROR_RESPONSES
from service.runtime.batching import BatchFailed, Job, Overloaded
from service.runtime.video import Video, VideoError, VideoFrame, open_video

router = APIRouter(prefix="/v1", tags=["poses"], dependencies=[Authorised])

NDJSON = "application/x-ndjson"
SUMMARY = "Estimate and track the poses in a video (NDJSON, one line per frame)"
RAW_TYPES = ("video/mp4", "video/webm", "video/quicktime", "video/x-matroska", "video/x-msvideo")
# error line codes of the worker's refusals (no `code` of their own)
OVERLOAD_LINE = {"QueueFull": "overloaded", "DeadlineExceeded": "deadline_exceeded",
                 "WorkerStopped": "not_ready", "BatchFailed": "inference_failed"}  # fmt: skip
_VIDEO_SCHEMA = {"type": "string", "format": "binary"}
_LINE_TEXT = (
    'One JSON object a line. Per processed frame: {"frame", "time_s", "persons": [{'
    '"track_id", "box", "box_source", "score", "keypoints"}], "timings_ms"}, the first '
    'also "keypoint_names" and "image" (width, height); '
    'track ids are small integers, stable for the video. Last: {"summary": {"frames", '
    '"decoded", "dropped", "tracks", "fps", "video", "model", "keypoint_names"}}, '
    'or {"error": {"code", "message"}} when decoding fails midway.'
)
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": {
                "type": "object", "required": ["video"], "properties": {"video": _VIDEO_SCHEMA},
            }, "encoding": {"video": {"contentType": ", ".join(RAW_TYPES)}}},
            **{t: {"schema": _VIDEO_SCHEMA} for t in RAW_TYPES},
        },
    }
}  # fmt: skip
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": _LINE_TEXT,
          "content": {NDJSON: {"schema": {"type": "string", "description": _LINE_TEXT}}}},
    **ERROR_RESPONSES,
    413: {**ERROR_RESPONSES[413], "description": "body, duration (BOXPOSE_MAX_VIDEO_SECONDS), "
          "frames (BOXPOSE_MAX_VIDEO_FRAMES) or frame size over the limit"},
    415: {**ERROR_RESPONSES[415], "description": "not a video (an image, or no video stream)"},
}  # fmt: skip


@router.post("/poses:video", openapi_extra=_BODY, responses=_RESPONSES,
             response_class=StreamingResponse, summary=SUMMARY)  # fmt: skip
async def poses_video(
    request: Request, runtime: ServingRuntime, options: Options, metrics: MetricsDep,
    fps: Annotated[float | None, Query(gt=0, le=240, description="sample the video at this "
                                       "rate (default: every frame)")] = None,
    max_frames: Annotated[int | None, Query(ge=1, description="answer at most this many "
                                            "frames")] = None,
) -> StreamingResponse:  # fmt: skip
    config = runtime.settings.video()
    data = await read_video(request, config.max_bytes)
    video = await run_in_threadpool(open_video, data, config, runtime.settings.max_pixels,
                                    runtime.pipeline.working_size)  # fmt: skip
    answerer = FrameAnswerer(runtime, options, metrics, "video")
    lines = _lines(video, answerer, fps, max_frames)
    return StreamingResponse(lines, media_type=NDJSON)


async def read_video(request: Request, limit: int) -> bytes:
    """multipart/form-data with a `video` part, or a raw video/* (or octet-stream) body."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "multipart/form-data":
        body = await read_body(request, limit)
        form = await Request(request.scope, replay_body(body)).form(max_files=1, max_fields=8)
        part = form.get("video")
        if part is None or isinstance(part, str):
            raise ApiError(400, "bad_request", "the multipart body has no 'video' file part")
        return await part.read()
    if media.startswith("video/") or media == "application/octet-stream":
        return await read_body(request, limit)
    raise ApiError(415, "unsupported_media_type",
                   f"content type {media or 'none'!r}: send multipart/form-data with a 'video' "
                   "part, or a raw video/* body")  # fmt: skip


async def _lines(video: Video, answerer: FrameAnswerer, fps: float | None,
                 max_frames: int | None) -> AsyncIterator[bytes]:  # fmt: skip
    """The NDJSON answer; up to `max_queued` frames in the worker while earlier ones answer.
    A decode error midway answers the frames already decoded, then ends with its error line."""
    metrics, start = answerer.metrics, time.monotonic()
    frames = video.frames(fps)
    pending: deque[tuple[VideoFrame, Job]] = deque()
    metrics.open_streams.labels("video").inc()
    finished, error = False, None
    try:
        while max_frames is None or answerer.answered + len(pending) < max_frames:
            try:
                frame = await run_in_threadpool(next, frames, None)
            except VideoError as exc:
                error = exc
                break
            if frame is None:
                break
            if len(pending) >= answerer.max_queued:
                yield await _line(answerer, *pending.popleft())
            pending.append((frame, await answerer.submit(frame.image, frame.time_s)))
        while pending:
            yield await _line(answerer, *pending.popleft())
        if error is not None:
            yield _error_line(error, answerer)
        else:
            yield _json({"summary": _summary(video, answerer, time.monotonic() - start)})
        finished = True
    except (Overloaded, BatchFailed) as exc:
        yield _error_line(exc, answerer)
        finished = True
    finally:
        cancel([job for _, job in pending])
        if not finished:
            metrics.rejections.labels("client_disconnected").inc(len(pending) or 1)
        skipped = video.decoded - answerer.answered - len(pending)
        metrics.dropped_frames.labels("sampled").inc(max(skipped, 0))
        video.close()
        metrics.open_streams.labels("video").dec()


def _error_line(exc: Exception, answerer: FrameAnswerer) -> bytes:
    code = getattr(exc, "code", None) or OVERLOAD_LINE.get(type(exc).__name__, "failed")
    return _json({"error": {"code": code, "message": str(exc)}, "frames": answerer.answered})


async def _line(answerer: FrameAnswerer, frame: VideoFrame, job: Job) -> bytes:
    line = await answerer.answer(job, frame.index, frame.time_s, frame.image)
    if answerer.answered == 1:  # a player can draw skeletons before the summary arrives
        line["keypoint_names"] = list(answerer.layout.names)
        line["image"] = {"width": frame.image.width, "height": frame.image.height}
    return _json(line)


def _summary(video: Video, answerer: FrameAnswerer, elapsed: float) -> dict[str, Any]:
    return {
        "frames": answerer.answered, "decoded": video.decoded,
        "dropped": video.decoded - answerer.answered, "tracks": answerer.tracker.ids_issued,
        "fps": round(answerer.answered / max(elapsed, 1e-9), 2), "video": video.info.as_dict(),
        "model": answerer.model(), "keypoint_names": list(answerer.layout.names),
    }  # fmt: skip


def _json(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"
