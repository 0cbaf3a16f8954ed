"""Settings from BOXPOSE_* environment variables, and the configs derived from them."""

from __future__ import annotations

import pytest

from service.config import CPU_MAX_BATCH, CPU_SCALES, GPU_MAX_BATCH, PAPER_SCALES, Settings


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOXPOSE_SCALES", "0.7, 1.0,1.3")
    monkeypatch.setenv("BOXPOSE_DETECTOR_MODEL", "")
    monkeypatch.setenv("BOXPOSE_API_KEY", "s3cr3t-value")
    monkeypatch.setenv("BOXPOSE_MAX_WAIT_MS", "25")
    settings = Settings()
    assert settings.scales == (0.7, 1.0, 1.3) and settings.detector_model == ""  # none
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t" not in repr(settings)  # the key never shows in logs
    assert settings.batch().max_wait_s == pytest.approx(0.025)


def test_scales_default_by_device() -> None:
    assert Settings(device="cpu").runtime().scales == CPU_SCALES
    assert Settings(device="cuda").runtime().scales == PAPER_SCALES
    assert Settings(device="cpu", fp16=True).runtime().fp16 is False  # fp16 only on a GPU


def test_batch_size_defaults_by_device(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(device="cpu").batch().max_batch_size == CPU_MAX_BATCH == 1
    assert Settings(device="cuda").batch().max_batch_size == GPU_MAX_BATCH == 8
    monkeypatch.setenv("BOXPOSE_MAX_BATCH_SIZE", "4")
    assert Settings(device="cpu").batch().max_batch_size == 4  # a set value always wins
    adaptive = Settings(device="cpu", adaptive_wait=False).batch()
    assert adaptive.adaptive_wait is False and Settings().batch().adaptive_wait is True


def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOXPOSE_MAX_BATCH_SIZE", "0")
    with pytest.raises(ValueError):
        Settings()
