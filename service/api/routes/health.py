"""Liveness, readiness and the Prometheus scrape endpoint (no API key: probes and scrapers)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from service.api.deps import MetricsDep, RuntimeDep
from service.api.errors import ApiError, unavailable
from service.api.schemas import ERROR_RESPONSES, Status

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Status, responses=ERROR_RESPONSES,
            summary="Alive (503 only when the models failed to load)")  # fmt: skip
async def healthz(runtime: RuntimeDep) -> Status:
    if runtime.state == "failed":
        raise ApiError(503, "startup_failed", runtime.error or "start-up failed")
    return Status(status="alive")


@router.get("/readyz", response_model=Status, responses=ERROR_RESPONSES,
            summary="Models loaded and warm; 503 while starting and after SIGTERM")  # fmt: skip
async def readyz(runtime: RuntimeDep) -> Status:
    if not runtime.ready:
        detail = f": {runtime.error}" if runtime.error else ""
        raise unavailable("not_ready", f"the service is {runtime.state}{detail}")
    return Status(status="ready")


@router.get("/metrics", response_class=Response, summary="Prometheus metrics",
            responses={200: {"content": {"text/plain": {}}}})  # fmt: skip
async def metrics(collectors: MetricsDep) -> Response:
    body, content_type = collectors.render()
    return Response(body, media_type=content_type)
