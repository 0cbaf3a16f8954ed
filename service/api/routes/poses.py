"""POST images (+ boxes) -> poses as JSON, or as a PNG overlay.

Images are decoded straight to the working size (`runtime/images.py`); boxes and poses are in
the original image's pixels. Given boxes are answered one to one, in order, whatever the score
threshold.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from service.api.deps import Authorised, MetricsDep, Options, PoseOptions, ServingRuntime
from service.api.errors import unavailable
from service.api.inputs import Upload, read_upload
from service.api.schemas import (
    ERROR_RESPONSES,
    BatchResponse,
    ImageSize,
    ModelRef,
    PoseResponse,
    Timings,
    person,
)
from service.metrics import Metrics
from service.runtime.batching import Job, JobResult
from service.runtime.images import DecodedImage, decode_image, encode_png
from service.runtime.keypoint_output import keypoint_layout
from service.runtime.lifecycle import Runtime
from service.runtime.render import render
from service.types import BoxSource, Pose

router = APIRouter(prefix="/v1", tags=["poses"], dependencies=[Authorised])

IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/bmp")  # runtime/images.py decodes
_IMAGE_SCHEMA = {"type": "string", "format": "binary",
                 "description": "an encoded photo: " + ", ".join(IMAGE_TYPES)}  # fmt: skip
# A text part (or query) holding JSON; what JSON Schema cannot say (x2 > x1, y2 > y1) its named
# format says: `boxes`, and `batch-boxes` for a list with one entry per image.
_BOXES_TEXT = (
    "JSON [[x1, y1, x2, y2], ...] in image pixels: at most BOXPOSE_MAX_BOXES boxes of four "
    "finite numbers with x2 > x1 and y2 > y1 (else 422); given boxes skip the detector and are "
    "answered one to one, in order (null keypoints and score 0 where nobody is found)"
)
_BOXES_SCHEMA = {"type": "string", "format": "boxes", "description": _BOXES_TEXT}
_PARTS = {"image": {"contentType": ", ".join(IMAGE_TYPES)},
          "boxes": {"contentType": "application/json"}}  # fmt: skip
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": {
                "type": "object", "required": ["image"],
                "properties": {"image": _IMAGE_SCHEMA, "boxes": _BOXES_SCHEMA},
            }, "encoding": _PARTS},
            **{t: {"schema": _IMAGE_SCHEMA} for t in IMAGE_TYPES},
        },
    },
    # with a raw image body (with a multipart one the `boxes` part counts, this is ignored)
    "parameters": [{"name": "boxes", "in": "query", "required": False,
                    "schema": _BOXES_SCHEMA, "description": _BOXES_TEXT}],
}  # fmt: skip
_BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["image"],
            "properties": {
                "image": {"type": "array", "items": _IMAGE_SCHEMA, "minItems": 1,
                          "description": "one part per photo, at most BOXPOSE_MAX_IMAGES"},
                "boxes": {"type": "string", "format": "batch-boxes",
                          "description": "JSON list, one entry per image: null (detector) or "
                          "[[x1, y1, x2, y2], ...] as in POST /v1/poses"},
            },
        }, "encoding": _PARTS}},
    }
}  # fmt: skip


@router.post("/poses", response_model=PoseResponse, openapi_extra=_BODY,
             responses=ERROR_RESPONSES, summary="Estimate the poses in one image")  # fmt: skip
async def poses(
    request: Request, runtime: ServingRuntime, options: Options, metrics: MetricsDep
) -> PoseResponse:
    upload = await read_upload(request, runtime.settings.limits(), many=False)
    images, results = await _run(request, runtime, upload, options, metrics)
    return _response(runtime, images[0], results[0], options, request, metrics)


@router.post("/poses:batch", response_model=BatchResponse, openapi_extra=_BATCH_BODY,
             responses=ERROR_RESPONSES, summary="Estimate the poses in several images")  # fmt: skip
async def poses_batch(
    request: Request, runtime: ServingRuntime, options: Options, metrics: MetricsDep
) -> BatchResponse:
    upload = await read_upload(request, runtime.settings.limits(), many=True)
    images, results = await _run(request, runtime, upload, options, metrics)
    return BatchResponse(results=[
        _response(runtime, im, res, options, request, metrics)
        for im, res in zip(images, results, strict=True)
    ])  # fmt: skip


@router.post("/render", openapi_extra=_BODY,
             summary="Draw boxes and skeletons on the image (shrunk to the working size)",
             responses={200: {"content": {"image/png": {}}}, **ERROR_RESPONSES},
             response_class=Response)  # fmt: skip
async def render_image(
    request: Request, runtime: ServingRuntime, options: Options, metrics: MetricsDep
) -> Response:
    upload = await read_upload(request, runtime.settings.limits(), many=False)
    images, results = await _run(request, runtime, upload, options, metrics)
    frame = images[0].frame  # drawn on the working image: the poses mapped into it
    kept = [frame.pose_in(p) for p in results[0].poses if _kept(p, options.score_threshold)]
    skeleton = runtime.pipeline.skeleton
    png = await run_in_threadpool(lambda: encode_png(render(images[0].rgb, kept, skeleton)))
    return Response(png, media_type="image/png")


async def _run(
    request: Request, runtime: Runtime, upload: Upload, options: PoseOptions, metrics: Metrics
) -> tuple[list[DecodedImage], list[JobResult]]:
    """Decode to the working size (threads), queue one job per image, await them all (or the
    deadline)."""
    limit, size = runtime.settings.max_pixels, runtime.pipeline.working_size
    images = [await run_in_threadpool(decode_image, data, limit, size) for data in upload.images]
    jobs = runtime.worker.submit(
        [(im.rgb, bx) for im, bx in zip(images, upload.boxes, strict=True)],
        options.scales, _arrival(request), [(im.height, im.width) for im in images],
    )  # fmt: skip
    return images, await _await_jobs(jobs, request, metrics)


async def _await_jobs(jobs: list[Job], request: Request, metrics: Metrics) -> list[JobResult]:
    """All the jobs' results; cancels them if the client goes away or the deadline passes."""
    pending: asyncio.Future[list[JobResult]] = asyncio.gather(*(job.future for job in jobs))
    gone: asyncio.Future[None] = asyncio.ensure_future(_disconnected(request))
    timeout = max(min(job.deadline for job in jobs) - time.monotonic(), 0.0)
    waiting: set[asyncio.Future[Any]] = {pending, gone}
    done, _ = await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    gone.cancel()
    if pending in done:
        return list(pending.result())  # raises the first job's error, if any
    for job in jobs:
        job.future.cancel()  # the worker skips cancelled jobs
    pending.cancel()
    pending.add_done_callback(_retrieve)  # no "exception was never retrieved" in the log
    if gone in done:
        metrics.rejections.labels("client_disconnected").inc()
        raise unavailable("client_disconnected", "the client went away")
    metrics.rejections.labels("deadline").inc()
    raise unavailable("deadline_exceeded", "the request did not finish before its deadline")


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


async def _disconnected(request: Request) -> None:
    """Returns once the client has disconnected (the body is already read)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _arrival(request: Request) -> float:
    return float(getattr(request.state, "arrival", time.monotonic()))


def _response(
    runtime: Runtime, image: DecodedImage, result: JobResult, options: PoseOptions,
    request: Request, metrics: Metrics,
) -> PoseResponse:  # fmt: skip
    layout = keypoint_layout(runtime.pipeline.skeleton, options.keep_neck)  # COCO-18: COCO-17
    persons = [person(p, layout) for p in result.poses if _kept(p, options.score_threshold)]
    metrics.persons.observe(len(persons))
    pose_model = runtime.pipeline.pose
    t = result.timings
    timings = Timings(
        queue=round(result.queue_s * 1e3, 3), detect=round(t.detect * 1e3, 3),
        forward=round(t.forward * 1e3, 3), parse=round(t.parse * 1e3, 3),
        total=round((time.monotonic() - _arrival(request)) * 1e3, 3),
    )  # fmt: skip
    return PoseResponse(
        model=ModelRef(name=pose_model.name, version=pose_model.version),
        image=ImageSize(width=image.width, height=image.height),
        keypoint_names=list(layout.names),
        persons=persons,
        timings_ms=timings,
    )


def _kept(pose: Pose, threshold: float) -> bool:
    """Above the score threshold, or answering a client box (each is answered)."""
    return pose.score >= threshold or (pose.box is not None and pose.box.source is BoxSource.CLIENT)
