"""Settings -> a running runtime: models loaded and warmed, the batch worker started; readiness.

States: starting -> ready -> draining (SIGTERM: not ready, still serving) -> stopped; or failed
when the models cannot be loaded (the error says why).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from service.config import Settings
from service.metrics import Metrics
from service.runtime.batching import BatchWorker
from service.runtime.factory import from_settings
from service.runtime.protocol import PoseModel

log = logging.getLogger("boxpose.runtime")

PipelineFactory = Callable[[], PoseModel[Any]]


def store_pipeline_factory(settings: Settings) -> PipelineFactory:
    """The production factory: the models from the store, per the settings (factory.py)."""
    return lambda: from_settings(settings)


class Runtime:
    def __init__(
        self, settings: Settings, metrics: Metrics, factory: PipelineFactory | None = None
    ) -> None:
        self.settings, self.metrics = settings, metrics
        self.factory = factory or store_pipeline_factory(settings)
        self.state = "starting"
        self.error: str | None = None
        self._pipeline: PoseModel[Any] | None = None
        self._worker: BatchWorker | None = None

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    @property
    def serving(self) -> bool:
        """Accepts work: ready, or draining after SIGTERM (in-flight and late requests)."""
        return self.state in ("ready", "draining")

    @property
    def pipeline(self) -> PoseModel[Any]:
        if self._pipeline is None:
            raise RuntimeError("models are not loaded yet")
        return self._pipeline

    @property
    def worker(self) -> BatchWorker:
        if self._worker is None:
            raise RuntimeError("the batch worker is not running")
        return self._worker

    async def start(self) -> None:
        """Load models (in a thread), warm them up, start the worker; then ready."""
        try:
            pipeline = await asyncio.to_thread(self.factory)
            if self.settings.warmup:
                await asyncio.to_thread(pipeline.warmup)
        except Exception as exc:  # noqa: BLE001 - reported by /readyz and the log
            self.state, self.error = "failed", f"{type(exc).__name__}: {exc}"
            log.error("boxpose: cannot start: %s", self.error)
            return
        self._pipeline = pipeline
        self._worker = BatchWorker(pipeline, self.settings.batch(), self.metrics)
        await self._worker.start()
        for model in pipeline.models:
            self.metrics.model_info.labels(
                model.name, model.version, model.kind, model.device, model.sha256
            ).set(1)
        if self.state == "starting":  # SIGTERM may have come while loading
            self.state = "ready"
            self.metrics.ready.set(1)
            log.info("boxpose: ready (%s)", ", ".join(m.name for m in pipeline.models))

    def begin_shutdown(self) -> None:
        """SIGTERM: /readyz answers 503 from now on; requests are still served."""
        if self.state in ("starting", "ready"):
            self.state = "draining"
        self.metrics.ready.set(0)

    async def stop(self) -> None:
        """Drain the worker (queued and running jobs finish), then stop it."""
        self.begin_shutdown()
        if self._worker is not None:
            await self._worker.stop(timeout=self.settings.drain_timeout_s)
        self.state = "stopped"
