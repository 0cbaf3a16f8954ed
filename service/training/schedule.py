"""The learning-rate schedule both trainings use: linear warm-up, then cosine decay."""

from __future__ import annotations

import math


def warmup_cosine(
    step: int, peak: float, warmup_steps: int, total_steps: int, final_fraction: float = 0.02,
    cosine_from: int = 0,
) -> float:
    """Rate at `step` (0-based): linear warm-up to `peak` over `warmup_steps`, then a cosine from
    `peak` at step `cosine_from` down to `final_fraction` x `peak` at `total_steps` (held after).
    total_steps <= 0: constant `peak` after the warm-up."""
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    if total_steps <= 0:
        return peak
    done = min(1.0, (step - cosine_from) / max(1, total_steps - cosine_from))
    return peak * (final_fraction + (1 - final_fraction) * 0.5 * (1.0 + math.cos(math.pi * done)))
