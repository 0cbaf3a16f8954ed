"""BOXPOSE_ENGINE=onnxruntime over real HTTP: /v1/models names the engine, and the default
movenet-fields network answers the astronaut through ONNX Runtime."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from api_helpers import Server
from PIL import Image

from service.config import Settings
from service.runtime.model_store import MODEL_STORE

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="module")
def onnx_server(cache: Path) -> Iterator[Server]:
    settings = Settings.model_validate({"model_store": MODEL_STORE, "device": "cpu",
                                        "engine": "onnxruntime", "onnx_cache": cache})
    running = Server(settings).start()
    yield running
    running.stop()


def test_served_request_runs_on_onnxruntime(onnx_server: Server, astronaut: np.ndarray) -> None:
    url = onnx_server.url
    models = httpx.get(f"{url}/v1/models", timeout=30).json()["models"]
    assert [(m["name"], m["engine"]) for m in models] == [("movenet-fields", "onnxruntime")]
    buffer = io.BytesIO()
    Image.fromarray(astronaut).save(buffer, format="PNG")
    response = httpx.post(f"{url}/v1/poses", files={"image": ("a.png", buffer.getvalue(),
                                                             "image/png")}, timeout=120)
    assert response.status_code == 200, response.text
    (person,) = response.json()["persons"]
    assert person["score"] > 0
