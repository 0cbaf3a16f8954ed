"""Parse time per frame at 848x480 (maps at stride 4), 1, 6 and 20 people, one thread.

Rerun: `.venv/bin/python bench/parse_speed.py [--repeats 50]`. Maps and fields are encoded from
synthetic ground truth (Eq. 1-4) plus mild noise; "boxes" includes pose NMS and completion.
Writes its section of BENCHMARKS.md (between the `bench:parse_speed` markers).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import write_section as replace_section  # noqa: E402
from service.evaluation.synthetic import SceneConfig, random_scene  # noqa: E402
from service.parsing import PARSERS, ParserConfig  # noqa: E402
from service.skeleton import AIC14  # noqa: E402
from service.targets import encode  # noqa: E402

SCENE = SceneConfig(height=480, width=848, min_size=60, max_size=300, min_separation=12.0)


def time_parser(name: str, people: int, repeats: int, seed: int) -> np.ndarray:
    """Median-ready per-frame times (ms) over `repeats` frames of `people` people."""
    rng = np.random.default_rng(seed)
    times = []
    for _ in range(repeats):
        s = random_scene(rng, SCENE, people=people)
        t = encode(s.keypoints, AIC14, s.height, s.width)
        maps = t.maps + rng.normal(0, 0.02, t.maps.shape).astype(np.float32)
        fields = t.fields + rng.normal(0, 0.02, t.fields.shape).astype(np.float32)
        boxes = list(s.boxes)
        start = time.perf_counter()
        PARSERS[name](maps, fields, AIC14, 4, boxes, ParserConfig())
        times.append(1000 * (time.perf_counter() - start))
    return np.array(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    rows = []
    for people in (1, 6, 20):
        for name in ("boxes", "greedy"):
            t = time_parser(name, people, args.repeats, seed=people)
            rows.append((name, people, np.median(t), np.percentile(t, 90)))
            print(f"{name:7s} {people:2d} people: median {rows[-1][2]:.2f} ms")
    med = {(n, p): m for n, p, m, _ in rows}
    print(f"boxes 20/1 people ratio {med[('boxes', 20)] / med[('boxes', 1)]:.1f}x; "
          f"boxes/greedy at 6 people {med[('boxes', 6)] / med[('greedy', 6)]:.2f}x")
    if not args.no_write:
        write_section(rows, args.repeats)
    return 0


def write_section(rows: list, repeats: int) -> None:
    lines = [
        "## Parse speed", "",
        f"Command: `.venv/bin/python bench/parse_speed.py --repeats {repeats}`", "",
        "848x480 input, maps and fields at stride 4 (212x120), AIC-14, one thread, "
        f"{repeats} frames per row (synthetic people, oracle maps + noise 0.02, GT boxes). "
        "`boxes` = candidates + Eq. 5 + Algorithm 1 + pose NMS + completion. Paper: 24 ms "
        "(i7-7700K). Target: boxes < 5 ms median at 6 people.", "",
        "| parser | people | median ms | p90 ms |", "|---|---|---|---|",
    ]
    lines += [f"| {n} | {p} | {m:.2f} | {q:.2f} |" for n, p, m, q in rows]
    replace_section("parse_speed", "\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
