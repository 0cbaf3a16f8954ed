"""Time to encode the training targets (Eq. 1-4) of one sample, by number of people.

Run: .venv/bin/python bench/targets_speed.py [--repeats 50]
Issue target: a 368x368 sample with 10 people well under 50 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.report import write_section  # noqa: E402
from service.data.synth.scene import SynthConfig, generate_scene  # noqa: E402
from service.skeleton import AIC14  # noqa: E402
from service.targets import TargetConfig, encode  # noqa: E402


def people(count: int, size: int, seed: int) -> np.ndarray:
    """Keypoints of `count` generated people in a size x size scene."""
    rng = np.random.default_rng(seed)
    cfg = SynthConfig(min_people=count, max_people=count, photometric=False)
    while True:
        scene = generate_scene(rng, size, size, cfg)
        if len(scene.keypoints) >= count:
            return scene.keypoints[:count]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    rows = []
    for count in (1, 10, 30):
        kp = people(count, 368, seed=count)
        encode(kp, AIC14, 368, 368, TargetConfig())
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            encode(kp, AIC14, 368, 368, TargetConfig())
            times.append(time.perf_counter() - start)
        rows.append((count, statistics.median(times) * 1000, max(times) * 1000))
    lines = [
        "## Target encoding (Eq. 1-4)", "",
        f"368x368 sample, stride 4, AIC-14 (15 maps, 26 field channels), median of "
        f"{args.repeats}. Target: 10 people well under 50 ms.", "",
        "| people | median ms | max ms |", "|---|---|---|",
        *(f"| {n} | {m:.2f} | {x:.2f} |" for n, m, x in rows),
        "", "Command: `.venv/bin/python bench/targets_speed.py`",
    ]  # fmt: skip
    text = "\n".join(lines)
    print(text)
    write_section("targets_speed", text)


if __name__ == "__main__":
    main()
