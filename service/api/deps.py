"""Request -> what a route needs: the runtime, settings, metrics, an authorised caller, options."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Query, Request

from service.api.errors import ApiError, unavailable
from service.api.inputs import parse_scales
from service.config import Settings
from service.metrics import Metrics
from service.runtime.lifecycle import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]


def require_api_key(
    settings: SettingsDep,
    x_api_key: Annotated[str | None, Header(description="the API key, if one is set")] = None,
    authorization: Annotated[str | None, Header(description="or: Bearer <API key>")] = None,
) -> None:
    if settings.api_key is None:
        return
    given = x_api_key
    if given is None and authorization and authorization.lower().startswith("bearer "):
        given = authorization[7:].strip()
    expected = settings.api_key.get_secret_value()
    if given is None or not secrets.compare_digest(given.encode(), expected.encode()):
        raise ApiError(
            401, "unauthorized", "wrong or missing API key (X-API-Key header or Bearer token)",
            {"WWW-Authenticate": "Bearer"},
        )  # fmt: skip


def serving_runtime(runtime: RuntimeDep, metrics: MetricsDep) -> Runtime:
    """The runtime if it accepts work, else 503 (starting, failed or stopped)."""
    if not runtime.serving:
        metrics.rejections.labels("not_ready").inc()
        raise unavailable("not_ready", f"the service is {runtime.state}")
    return runtime


# 1 to inputs.MAX_SCALES numbers in inputs.SCALE_RANGE [0.25, 2.0], comma-separated
_SCALE = r"(?:0\.(?:2[5-9]|[3-9])[0-9]{0,3}|1(?:\.[0-9]{1,4})?|2(?:\.0{1,4})?)"
SCALES_PATTERN = rf"^{_SCALE}(?:,{_SCALE}){{0,3}}$"


@dataclass(frozen=True)
class PoseOptions:
    scales: tuple[float, ...]
    score_threshold: float
    keep_neck: bool = False  # a COCO-18 model answers COCO-17; True adds the neck


def pose_options(
    runtime: Annotated[Runtime, Depends(serving_runtime)],
    settings: SettingsDep,
    scales: Annotated[
        str | None,
        Query(
            description="comma-separated input scales of the working image, e.g. 0.7,1.0,1.3 "
            "(default: the paper's three on a GPU, 1.0 on a CPU)",
            # documented, checked by parse_scales (its 422 names the problem)
            json_schema_extra={"pattern": SCALES_PATTERN},
        ),
    ] = None,  # fmt: skip
    score_threshold: Annotated[
        float | None, Query(ge=0.0, le=1.0, description="drop persons scoring below this")
    ] = None,
    keep_neck: Annotated[
        bool, Query(description="a COCO-18 model answers COCO's 17 keypoints; true adds its "
                    "neck as an 18th (other skeletons: ignored)")
    ] = False,
) -> PoseOptions:
    chosen = parse_scales(scales) or runtime.pipeline.config.scales
    threshold = settings.score_threshold if score_threshold is None else score_threshold
    return PoseOptions(scales=chosen, score_threshold=threshold, keep_neck=keep_neck)


Authorised = Depends(require_api_key)
ServingRuntime = Annotated[Runtime, Depends(serving_runtime)]
Options = Annotated[PoseOptions, Depends(pose_options)]
