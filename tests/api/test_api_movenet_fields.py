"""movenet-fields served over real HTTP (issue 27): exported from the npm tarball (skips
without it) and the committed best head checkpoint, named as the pose model with no detector set, it
loads no detector and answers the astronaut with boxes from its own box head."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_helpers import Server

from service.config import Settings
from service.importers.human_models import TARBALL_ENV, find_tarball, missing_tarball_message

CHECKPOINT = Path(__file__).resolve().parents[2].joinpath(
    "checkpoints", "movenet-fields-gates-truth-best.pt")


@pytest.fixture(scope="module")
def fields_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if find_tarball() is None:
        pytest.skip(f"{missing_tarball_message()} ({TARBALL_ENV}); tests do not download")
    if not CHECKPOINT.is_file():
        pytest.skip(f"no {CHECKPOINT}")
    from service.training.movenet_fields_command import main

    store = tmp_path_factory.mktemp("store")
    assert main(["export", "--checkpoint", str(CHECKPOINT), "--store", str(store)]) == 0
    settings = Settings.model_validate({"model_store": store, "pose_model": "movenet-fields",
                                        "device": "cpu"})  # fmt: skip
    running = Server(settings).start()
    yield running
    running.stop()


def test_it_loads_no_detector(fields_server: Server) -> None:
    body = httpx.get(f"{fields_server.url}/v1/models", timeout=30).json()
    assert [(m["name"], m["kind"]) for m in body["models"]] == [("movenet-fields", "pose")]


def test_it_answers_with_its_own_boxes(fields_server: Server, astronaut_png: bytes) -> None:
    response = httpx.post(f"{fields_server.url}/v1/poses",
                          files={"image": ("a.png", astronaut_png, "image/png")}, timeout=120)
    assert response.status_code == 200, response.text
    persons = response.json()["persons"]
    assert persons and {p["box_source"] for p in persons} == {"box_head"}
    x1, y1, x2, y2 = persons[0]["box"]
    assert x1 < 300 < x2 and y1 < 200 < y2  # around her (512 x 512; her head near (270, 150))
