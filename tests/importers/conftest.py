"""Fixtures for the importers' tests: the mediapipe wheel and the human-models tarball (never
downloaded by tests) and the TFLite interpreter; tests that need them skip, saying what is
missing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from service.importers.blazepose_export import MEMBERS
from service.importers.human_models import TARBALL_ENV, find_tarball, missing_tarball_message
from service.importers.wheel import CACHE_DIR, WHEEL_ENV, extract, find_wheel


@pytest.fixture(scope="session")
def wheel() -> Path:
    found = find_wheel()
    if found is None:
        pytest.skip(f"no mediapipe 0.10.14 wheel: set {WHEEL_ENV} or put it in {CACHE_DIR} "
                    "(pip download --no-deps mediapipe==0.10.14); tests do not download")
    return found


@pytest.fixture(scope="session")
def interpreter_available() -> None:
    for module in ("tflite", "ai_edge_litert"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed: pip install -e '.[import]'")


@pytest.fixture(scope="session")
def tflite_files(wheel: Path, interpreter_available: None,
                 tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return extract(wheel, MEMBERS, tmp_path_factory.mktemp("tflite"))


@pytest.fixture(scope="session")
def tarball() -> Path:
    found = find_tarball()
    if found is None:
        pytest.skip(f"{missing_tarball_message()} ({TARBALL_ENV}); tests do not download")
    return found
