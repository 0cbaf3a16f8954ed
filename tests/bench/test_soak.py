"""The soak bench's bookkeeping (bench/soak.py, bench/soak_clients.py): growth after the warm-up
from samples, and how an answer is judged (answered, refused with a reason, or failed)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.soak import growth  # noqa: E402
from bench.soak_clients import Tally  # noqa: E402


def samples(rss: list[float], every_s: float = 10.0) -> list[dict[str, float]]:
    return [{"t_s": i * every_s, "rss_mib": v, "fds": 10, "threads": 6} for i, v in enumerate(rss)]


def test_growth_compares_the_windows_after_the_warm_up() -> None:
    # 5 minutes of warm-up climbing to 500, then 10 minutes creeping from 500 to 550
    rss = [300 + 40 * i for i in range(5)] + [500 + 50 * i / 59 for i in range(60)]
    g = growth(samples(rss), warmup_s=50.0)
    assert g["rss_mib"]["after_warmup"] < 510 and g["rss_mib"]["end"] > 540
    assert 6 < g["rss_mib"]["growth_pct"] < 10
    assert g["fds"]["growth_pct"] == 0.0 and g["threads"]["max"] == 6


def test_flat_after_the_warm_up_is_zero() -> None:
    g = growth(samples([100, 300, 400] + [400] * 60), warmup_s=30.0)
    assert g["rss_mib"]["growth_pct"] == 0.0


def test_answers_are_judged() -> None:
    tally = Tally()
    tally.judge("photo", 200, json.dumps({"persons": []}).encode())
    tally.judge("photo", 503, json.dumps({"error": {"code": "deadline_exceeded",
                                                    "message": "late"}}).encode())  # fmt: skip
    tally.judge("photo", 400, json.dumps({"error": {"code": "x"}}).encode())  # no message
    tally.judge("photo", 502, b"<html>bad gateway</html>")
    assert tally.answered == {"photo": 1}
    assert tally.refused == {"photo 503 deadline_exceeded": 1}
    assert len(tally.failed) == 2
