"""`boxpose serve`: settings + command-line overrides -> uvicorn running the app.

SIGTERM (or Ctrl-C): /readyz turns 503 at once while requests are still served for
`shutdown_delay_s` (time for a load balancer to stop sending), then uvicorn stops accepting,
in-flight requests finish (up to `drain_timeout_s`), the worker drains, and the process exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Generator
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError

from service.config import Settings
from service.runtime.factory import detector_for
from service.runtime.lifecycle import Runtime
from service.runtime.model_store import ModelStoreError, read_manifest

log = logging.getLogger("boxpose.serve")


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="bind address (BOXPOSE_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (BOXPOSE_PORT, default 8000)")
    parser.add_argument("--pose-model", help="pose model name in the store (BOXPOSE_POSE_MODEL; "
                        "default: the service's default pose model)")
    parser.add_argument("--detector-model", help="detector name (BOXPOSE_DETECTOR_MODEL; default: "
                        "the one the pose model's manifest names)")
    parser.add_argument("--no-detector", action="store_true", help="boxes from greedy grouping")
    parser.add_argument("--model-store", help="model store directory (BOXPOSE_MODEL_STORE)")
    parser.add_argument("--device", help="auto, cpu or cuda (BOXPOSE_DEVICE)")
    parser.add_argument("--log-level", default="info", help="uvicorn log level")


def settings_from(args: argparse.Namespace) -> Settings:
    """Environment settings, overridden by the options given on the command line."""
    names = ("host", "port", "pose_model", "detector_model", "model_store", "device")
    overrides: dict[str, Any] = {n: getattr(args, n) for n in names if getattr(args, n, None)}
    if getattr(args, "no_detector", False):
        overrides["detector_model"] = ""  # no detector
    return Settings.model_validate(overrides)


def check_models(settings: Settings) -> Settings:
    """Fail fast with a clear message when the pose model is missing; run without a detector
    (greedy boxes) when only the detector is."""
    store = settings.model_store
    read_manifest(settings.pose_model, store)
    detector = detector_for(settings.runtime())
    if detector:
        try:
            read_manifest(detector, store)
        except ModelStoreError as exc:
            log.warning("%s; serving without a detector (boxes from greedy grouping)", exc)
            return settings.model_copy(update={"detector_model": ""})
    return settings


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s: %(message)s")
    try:
        settings = check_models(settings_from(args))
    except ValidationError as exc:  # a bad BOXPOSE_* value: say which, and what is allowed
        print(f"boxpose serve: {exc}", file=sys.stderr)
        return 2
    except ModelStoreError as exc:
        print(f"boxpose serve: {exc}\n  Export or train a model into the store first "
              "(`boxpose export`, `make models`), or name another one with --pose-model / "
              "BOXPOSE_POSE_MODEL.", file=sys.stderr)  # fmt: skip
        return 2
    from service.api.app import create_app

    return serve(create_app(settings), settings, args.log_level)


class GracefulServer(uvicorn.Server):
    """uvicorn, with readiness dropped on the first signal and exit after `delay` seconds."""

    def __init__(self, config: uvicorn.Config, runtime: Runtime, delay: float) -> None:
        super().__init__(config)
        self.runtime, self.delay = runtime, delay
        self._loop: asyncio.AbstractEventLoop | None = None
        self._signalled = False

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """uvicorn's, except that a SIGTERM it has drained for is not raised again at the end:
        a completed graceful shutdown exits 0, not as killed by the signal (143)."""
        with super().capture_signals():
            try:
                yield
            finally:
                self._captured_signals = [s for s in self._captured_signals
                                          if s != signal.SIGTERM]

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._signalled or self._loop is None or self.delay <= 0:
            self.runtime.begin_shutdown()
            super().handle_exit(sig, frame)
            return
        self._signalled = True
        self.runtime.begin_shutdown()  # /readyz: 503 from now on
        log.info("signal %s: not ready; stopping in %.1f s", sig, self.delay)
        # Signal handlers may only touch the loop thread-safely.
        self._loop.call_soon_threadsafe(
            self._loop.call_later, self.delay, super().handle_exit, sig, None
        )


def serve(app: FastAPI, settings: Settings, log_level: str = "info") -> int:
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level=log_level, lifespan="on",
        timeout_graceful_shutdown=int(settings.drain_timeout_s) or None,
    )  # fmt: skip
    server = GracefulServer(config, app.state.runtime, settings.shutdown_delay_s)
    server.run()
    return 0
