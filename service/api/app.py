"""Settings -> the FastAPI app: lifespan (load, warm up, worker; drain on shutdown), routers,
error handlers, metrics middleware."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

import service
from service.api.errors import install_error_handlers
from service.api.middleware import MetricsMiddleware
from service.api.routes import health, models, page, poses, stream, video
from service.api.routes.inference_v2 import V2_ROUTERS
from service.config import Settings
from service.metrics import Metrics
from service.runtime.lifecycle import PipelineFactory, Runtime

DESCRIPTION = """Multi-person 2D pose estimation: one network pass gives joint confidence maps and
limb direction fields; people are assembled inside person boxes (from a detector or from you),
then pose NMS and pose completion (Li et al., ICPR 2018). The models see the image shrunk to
the working size (`BOXPOSE_WORKING_SIZE`, long side; never enlarged); coordinates are in the
pixels of the uploaded image after its EXIF orientation is applied. Given boxes are answered one
to one, in order."""


def create_app(
    settings: Settings | None = None,
    factory: PipelineFactory | None = None,
    metrics: Metrics | None = None,
) -> FastAPI:
    """The app; `factory` builds the pipeline (default: the models named by the settings)."""
    settings = settings or Settings()
    metrics = metrics or Metrics()
    runtime = Runtime(settings, metrics, factory)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Load in the background: /healthz answers at once, /readyz says 503 until warm.
        starting = asyncio.create_task(runtime.start(), name="boxpose-start")
        try:
            yield
        finally:
            runtime.begin_shutdown()
            if not starting.done():
                starting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await starting
            await runtime.stop()

    app = FastAPI(
        title="boxpose", version=service.__version__, description=DESCRIPTION, lifespan=lifespan
    )
    app.state.settings, app.state.metrics, app.state.runtime = settings, metrics, runtime
    routers = (poses, video, stream, models, health, page)
    for router in (module.router for module in routers):
        app.include_router(router)
    for router in V2_ROUTERS:  # the Open Inference Protocol (KServe v2)
        app.include_router(router)
    install_error_handlers(app)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
