"""The learning-rate schedule: linear warm-up, then constant or cosine to 2%."""

import math
from pathlib import Path

import pytest

from service.training.config import TrainConfig
from service.training.loop import learning_rate


def _cfg(**kw) -> TrainConfig:
    return TrainConfig(Path(), Path(), Path(), Path(), learning_rate=1e-3, **kw)


def test_warm_up_is_linear():
    cfg = _cfg(warmup_steps=100)
    assert learning_rate(cfg, 0) == pytest.approx(1e-5)
    assert learning_rate(cfg, 49) == pytest.approx(5e-4)
    assert learning_rate(cfg, 100) == pytest.approx(1e-3)


def test_constant_without_schedule():
    assert learning_rate(_cfg(warmup_steps=10, schedule_steps=0), 5000) == pytest.approx(1e-3)


def test_cosine_reaches_two_percent_at_the_end_and_stays():
    cfg = _cfg(warmup_steps=0, schedule_steps=1000)
    assert learning_rate(cfg, 0) == pytest.approx(1e-3)
    half = 1e-3 * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert learning_rate(cfg, 500) == pytest.approx(half)
    assert learning_rate(cfg, 1000) == pytest.approx(2e-5)
    assert learning_rate(cfg, 5000) == pytest.approx(2e-5)
    rates = [learning_rate(cfg, s) for s in range(0, 1001, 50)]
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))


def test_detector_cosine_starts_after_its_warm_up():
    from pathlib import Path

    from service.detector.train import DetectorTrainConfig
    from service.detector.train import learning_rate as detector_rate

    cfg = DetectorTrainConfig(Path("t"), Path("v"), lr=2e-3, warmup_steps=100)
    assert detector_rate(cfg, 0, 1100) == pytest.approx(2e-5)
    assert detector_rate(cfg, 100, 1100) == pytest.approx(2e-3)  # the cosine's start
    assert detector_rate(cfg, 600, 1100) == pytest.approx(2e-3 * (0.02 + 0.98 * 0.5))
    assert detector_rate(cfg, 1100, 1100) == pytest.approx(2e-3 * 0.02)
    assert detector_rate(cfg, 5000, 1100) == pytest.approx(2e-3 * 0.02)


def test_a_later_leg_anneals_from_its_own_start():
    from service.training.schedule import warmup_cosine

    # a run resumed at step 13,000 with the rate it had reached, annealed by step 15,000
    assert warmup_cosine(13000, 6e-4, 300, 15000, cosine_from=13000) == pytest.approx(6e-4)
    middle = 6e-4 * (0.02 + 0.98 * 0.5)
    assert warmup_cosine(14000, 6e-4, 300, 15000, cosine_from=13000) == pytest.approx(middle)
    assert warmup_cosine(15000, 6e-4, 300, 15000, cosine_from=13000) == pytest.approx(1.2e-5)
    assert warmup_cosine(20000, 6e-4, 300, 15000, cosine_from=13000) == pytest.approx(1.2e-5)
