"""Fixtures for the API tests: a model store of stand-in models (see runtime_fakes), servers.

Decoding, HTTP, batching and parsing are the real ones; only the models are stand-ins.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

# The stand-in models live beside the runtime tests; both suites use them.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))

from api_helpers import Server, settings_for  # noqa: E402
from PIL import Image  # noqa: E402
from runtime_fakes import SceneData, make_scene, make_store  # noqa: E402

from service.config import Settings  # noqa: E402
from service.runtime.lifecycle import PipelineFactory  # noqa: E402
from service.runtime.model_store import MODEL_STORE  # noqa: E402


@pytest.fixture(scope="session")
def scene() -> SceneData:
    return make_scene()


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory, scene: SceneData) -> Path:
    return make_store(tmp_path_factory.mktemp("model_store"), scene)


@pytest.fixture
def make_server(store: Path) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def make(factory: PipelineFactory | None = None, wait_ready: bool = True, **kw: Any) -> Server:
        server = Server(settings_for(store, **kw), factory).start(wait_ready)
        servers.append(server)
        return server

    yield make
    for server in servers:
        with contextlib.suppress(Exception):
            server.stop()


@pytest.fixture(scope="module")
def server(store: Path) -> Iterator[Server]:
    """A shared server with the default test settings (no API key, detector on)."""
    running = Server(settings_for(store)).start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def astronaut_png(astronaut: np.ndarray) -> bytes:
    """The astronaut photo (tests/conftest.py) as PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(astronaut).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="session")
def default_server() -> Iterator[Server]:
    """The service as `make serve` runs it (no model named: the bundled default), on the CPU."""
    settings = Settings.model_validate({"model_store": MODEL_STORE, "device": "cpu"})
    running = Server(settings).start()
    yield running
    running.stop()
