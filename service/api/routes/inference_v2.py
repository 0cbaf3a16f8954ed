"""The Open Inference Protocol (KServe v2) REST routes beside /v1: health, server and model
metadata, readiness, the repository index and inference, for the one pose pipeline served.

Inference goes through the same batch worker, body and pixel limits, API key and metrics as
/v1/poses. Every failure answers the protocol's `{"error": "..."}` with the /v1 status
(`V2Route` turns the service's errors, its dependencies' included, into that form).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

import service
from service.api.deps import Authorised, MetricsDep, RuntimeDep, ServingRuntime
from service.api.errors import ApiError
from service.api.inference_protocol import (
    HEADER_LENGTH,
    InferenceResponse,
    ModelMetadata,
    ProtocolError,
    client_boxes,
    image_bytes,
    metadata,
    outputs,
    parse_request,
    request_schema,
)
from service.api.inputs import read_body
from service.api.routes.poses import _await_jobs
from service.config import Settings
from service.runtime.batching import BatchFailed, DeadlineExceeded, Overloaded
from service.runtime.images import ImageError, decode_image
from service.runtime.keypoint_output import keypoint_layout
from service.runtime.lifecycle import Runtime

SERVER_NAME = "boxpose"


class V2Route(APIRoute):
    """A route whose failures answer `{"error": "..."}` (the protocol's error object)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as exc:
                return _error(exc.status, exc.message, exc.headers)
            except ImageError as exc:
                return _error(exc.status, str(exc))
            except (Overloaded, DeadlineExceeded) as exc:
                return _error(503, str(exc), {"Retry-After": "1"})
            except BatchFailed as exc:
                return _error(500, str(exc))
            except RequestValidationError as exc:
                return _error(400, "; ".join(str(e.get("msg", "")) for e in exc.errors()))
            except StarletteHTTPException as exc:
                return _error(exc.status_code, str(exc.detail))

        return answer


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ProtocolError, "description": text}
    for status, text in ((400, "malformed request, tensor or image"),
                         (401, "wrong or missing API key (when one is configured)"),
                         (404, "no such model or version"), (413, "body or pixels over the limit"),
                         (415, "unsupported image type"), (422, "malformed boxes"),
                         (500, "inference failed for this request's batch"),
                         (503, "overloaded, deadline exceeded or not ready (Retry-After)"))
}  # fmt: skip
probes = APIRouter(prefix="/v2", tags=["inference protocol v2"], route_class=V2Route)
router = APIRouter(prefix="/v2", tags=["inference protocol v2"], route_class=V2Route,
                   dependencies=[Authorised])  # fmt: skip


@probes.get("/health/live", responses=ERRORS, summary="Alive")
async def live(runtime: RuntimeDep) -> dict[str, bool]:
    if runtime.state == "failed":
        raise ApiError(503, "startup_failed", runtime.error or "start-up failed")
    return {"live": True}


@probes.get("/health/ready", responses=ERRORS, summary="Models loaded and warm")
async def ready(runtime: RuntimeDep) -> dict[str, bool]:
    if not runtime.ready:
        raise ApiError(503, "not_ready", f"the service is {runtime.state}",
                       {"Retry-After": "1"})  # fmt: skip
    return {"ready": True}


@router.get("", responses=ERRORS, summary="Server metadata")
async def server_metadata() -> dict[str, Any]:
    return {"name": SERVER_NAME, "version": service.__version__,
            "extensions": ["model_repository", "binary_tensor_data"]}  # fmt: skip


@router.post("/repository/index", responses=ERRORS, summary="The models served")
async def repository_index(runtime: RuntimeDep) -> list[dict[str, str]]:
    if runtime.state not in ("ready", "draining"):
        return []
    pose = runtime.pipeline.pose
    return [{"name": pose.name, "version": pose.version,
             "state": "READY" if runtime.ready else "UNAVAILABLE"}]  # fmt: skip


@router.get("/models/{name}", response_model=ModelMetadata, responses=ERRORS,
            summary="A model's inputs and outputs")  # fmt: skip
@router.get("/models/{name}/versions/{version}", response_model=ModelMetadata,
            responses=ERRORS, summary="A model version's inputs and outputs")  # fmt: skip
async def model_metadata(name: str, runtime: ServingRuntime,
                         version: str | None = None) -> ModelMetadata:  # fmt: skip
    _check_model(runtime, name, version)
    pose = runtime.pipeline.pose
    return metadata(pose.name, pose.version, pose.engine,
                    keypoint_layout(runtime.pipeline.skeleton))  # fmt: skip


@router.get("/models/{name}/ready", responses=ERRORS, summary="A model is ready")
@router.get("/models/{name}/versions/{version}/ready", responses=ERRORS,
            summary="A model version is ready")  # fmt: skip
async def model_ready(name: str, runtime: ServingRuntime,
                      version: str | None = None) -> dict[str, Any]:  # fmt: skip
    _check_model(runtime, name, version)
    if not runtime.ready:
        raise ApiError(503, "not_ready", f"the service is {runtime.state}")
    return {"name": name, "ready": True}


# the documented limit is the default's (an operator's lower BOXPOSE_MAX_BOXES answers 422 above)
_INFER_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": request_schema(Settings.model_fields["max_boxes"].default)},
}}}  # fmt: skip


@router.post("/models/{name}/infer", response_model=InferenceResponse, responses=ERRORS,
             openapi_extra=_INFER_BODY, summary="Poses in one photo")  # fmt: skip
@router.post("/models/{name}/versions/{version}/infer", response_model=InferenceResponse,
             responses=ERRORS, openapi_extra=_INFER_BODY,
             summary="Poses in one photo, by a model version")  # fmt: skip
async def infer(name: str, request: Request, runtime: ServingRuntime, metrics: MetricsDep,
                version: str | None = None) -> InferenceResponse:  # fmt: skip
    _check_model(runtime, name, version)
    limits = runtime.settings.limits()
    body = await read_body(request, limits.max_body_bytes)
    parsed, binary = parse_request(body, request.headers.get(HEADER_LENGTH))
    tensors = {t.name: t for t in parsed.inputs}
    if "IMAGE" not in tensors or len(tensors) != len(parsed.inputs):
        raise ApiError(400, "bad_request", "inputs: one IMAGE and at most one BOXES")
    data = image_bytes(tensors["IMAGE"], binary.get("IMAGE"))
    boxes = client_boxes(tensors["BOXES"], binary.get("BOXES"), limits.max_boxes) \
        if "BOXES" in tensors else None
    image = await run_in_threadpool(decode_image, data, runtime.settings.max_pixels,
                                    runtime.pipeline.working_size)  # fmt: skip
    jobs = runtime.worker.submit([(image.rgb, boxes)], runtime.pipeline.config.scales,
                                 float(getattr(request.state, "arrival", time.monotonic())),
                                 [(image.height, image.width)])  # fmt: skip
    (result,) = await _await_jobs(jobs, request, metrics)
    metrics.persons.observe(len(result.poses))
    pose = runtime.pipeline.pose
    return InferenceResponse(
        model_name=pose.name, model_version=pose.version, id=parsed.id,
        outputs=outputs(result.poses, keypoint_layout(runtime.pipeline.skeleton), parsed.outputs),
    )  # fmt: skip


def _check_model(runtime: Runtime, name: str, version: str | None) -> None:
    pose = runtime.pipeline.pose
    if name != pose.name or version not in (None, "", pose.version):
        served = f"{pose.name} (version {pose.version})"
        raise ApiError(404, "not_found", f"no model {name!r}"
                       + (f" version {version!r}" if version else "") + f"; serving {served}")


V2_ROUTERS = (probes, router)  # create_app includes both
