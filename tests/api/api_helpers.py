"""Real HTTP for the API tests: the app under uvicorn in a thread, pipeline hooks, metrics."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from service.api.app import create_app
from service.api.command import GracefulServer
from service.config import Settings
from service.runtime.factory import load_pipeline
from service.runtime.lifecycle import PipelineFactory
from service.runtime.protocol import BatchOutput, ImageInput, PoseModel


def settings_for(store: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "pose_model": "pose-fixed", "detector_model": "detector-fixed", "model_store": store,
        "device": "cpu", "max_wait_ms": 5.0, "warmup": True, "drain_timeout_s": 10.0,
        # the fixed maps' stray partial people would come back as supplemented greedy boxes
        # (test_api_parser.py tests the supplement); here every box is the detector's
        "supplement_detector_boxes": False,
    }  # fmt: skip
    values.update(overrides)
    return Settings.model_validate(values)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """The app under uvicorn in a thread, on a free local port: real HTTP."""

    def __init__(self, settings: Settings, factory: PipelineFactory | None = None) -> None:
        self.app = create_app(settings, factory)
        self.runtime = self.app.state.runtime
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning",
                                timeout_graceful_shutdown=10)  # fmt: skip
        self.server = GracefulServer(config, self.runtime, settings.shutdown_delay_s)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self, wait_ready: bool = True) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        while wait_ready and not self.runtime.ready and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


class Hooks:
    """Wraps a real pipeline's `forward_batch`: records each batch's client boxes, can hold a
    batch until released (`gate`), and can raise in chosen calls (fault injection). Batches
    pass untouched until `armed` is set (after start-up and warm-up)."""

    def __init__(self, store: Path, gate: bool = False, fail_calls: tuple[int, ...] = ()) -> None:
        self.store, self.fail_calls = store, fail_calls
        self.calls: list[list[Any]] = []
        self.armed = threading.Event()
        self.entered = threading.Event()
        self.release = threading.Event()
        if not gate:
            self.release.set()

    def factory(self) -> PoseModel:
        pipeline = load_pipeline("pose-fixed", "detector-fixed", "cpu", self.store)
        real = pipeline.forward_batch

        def forward_batch(inputs: list[ImageInput]) -> BatchOutput:
            if not self.armed.is_set():
                return real(inputs)  # warm-up and set-up batches pass untouched
            call = len(self.calls)
            self.calls.append([inp.boxes for inp in inputs])
            self.entered.set()
            self.release.wait(30)
            if call in self.fail_calls:
                raise RuntimeError(f"injected fault in batch {call}")
            return real(inputs)

        pipeline.forward_batch = forward_batch  # type: ignore[method-assign]
        return pipeline


def metric_value(text: str, name: str, labels: str = "") -> float:
    """The value of one sample line `name{labels} value` in the exposition text (0 if absent)."""
    prefix = f"{name}{{{labels}}} " if labels else f"{name} "
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.split()[-1])
    return 0.0
