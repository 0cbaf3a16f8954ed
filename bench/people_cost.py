"""Cost against the number of people: the bottom-up model against the top-down baseline.

Same-size generated photos (`boxpose synth`'s generator, 848x480) with 1 to 40 people; each
request end to end as `Pipeline.predict` runs it (working image, boxes, network, parse): the
served bottom-up model (default: `Settings()`'s pose model and detector) against the BlazePose
top-down baseline (one 256x256 crop per person). Two ways to get boxes: the true boxes given
as client boxes (exactly N people for both), and each system's own detector. The photos and the
systems are interleaved in every round; medians over rounds.

Run: `.venv/bin/python bench/people_cost.py [--pose pose-lite] [--detector detector-lite]
[--topdown blazepose-topdown] [--people 1,2,5,10,20,40] [--repeats 3] [--threads 1]`.
Writes its BENCHMARKS.md section and bench/plots/people_cost.png.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import (  # noqa: E402
    SHARED_NOTE,
    add_timing_arguments,
    median,
    new_figure,
    save,
    shell_arg,
    use_threads,
)
from bench.report import write_section  # noqa: E402
from service.config import Settings  # noqa: E402
from service.data.synth.scene import SynthConfig, generate_scene  # noqa: E402
from service.runtime.factory import load_pipeline  # noqa: E402
from service.runtime.model_store import default_detector  # noqa: E402
from service.runtime.protocol import PoseModel  # noqa: E402
from service.types import Box  # noqa: E402

WIDTH, HEIGHT = 848, 480
MODES = ("true boxes", "own detector")


@dataclass(frozen=True)
class Photo:
    image: np.ndarray  # (H, W, 3) uint8 RGB
    boxes: list[Box]  # the true person boxes


def make_photo(people: int, seed: int) -> Photo:
    """A generated 848x480 scene of `people` people (fewer when one falls outside)."""
    config = SynthConfig(min_people=people, max_people=people, min_height=0.2, max_height=0.6)
    scene = generate_scene(np.random.default_rng(seed), WIDTH, HEIGHT, config)
    boxes = [Box(*(float(v) for v in b)) for b in scene.boxes
             if b[2] - b[0] >= 4 and b[3] - b[1] >= 4]  # fmt: skip
    return Photo(scene.image, boxes)


def request(pipeline: PoseModel, photo: Photo, mode: str) -> tuple[float, float, int]:
    """One request -> (wall s, process CPU s, persons answered)."""
    boxes = list(photo.boxes) if mode == "true boxes" else None
    wall, cpu = time.perf_counter(), time.process_time()
    poses = pipeline.predict(photo.image, boxes).poses
    return time.perf_counter() - wall, time.process_time() - cpu, len(poses)


def measure(systems: dict[str, PoseModel], photos: dict[int, Photo], repeats: int) -> dict:
    """-> {(system, mode, people): {"wall": median s, "cpu": median s, "persons": median}}."""
    keys = [(s, m, n) for n in photos for s in systems for m in MODES]
    runs: dict[tuple, list[tuple[float, float, int]]] = {k: [] for k in keys}
    for s, m, n in keys[: len(systems) * len(MODES)]:  # warm-up on the first photo
        request(systems[s], photos[n], m)
    for round_ in range(repeats):
        for key in keys if round_ % 2 == 0 else keys[::-1]:
            s, m, n = key
            runs[key].append(request(systems[s], photos[n], m))
        print(f"round {round_ + 1}/{repeats} done", flush=True)
    return {k: {"wall": median([r[0] for r in v]), "cpu": median([r[1] for r in v]),
                "persons": median([r[2] for r in v])} for k, v in runs.items()}  # fmt: skip


def crossing(counts: list[int], bottom: list[float], top: list[float]) -> float | None:
    """The people count where the top-down cost first reaches the bottom-up one (linear
    interpolation between measured counts); None when it never does."""
    diff = np.asarray(top) - np.asarray(bottom)
    for i in range(len(counts)):
        if diff[i] >= 0:
            if i == 0:
                return float(counts[0])
            t = -diff[i - 1] / (diff[i] - diff[i - 1])
            return float(counts[i - 1] + t * (counts[i] - counts[i - 1]))
    return None


def main() -> int:
    runtime = Settings().runtime()
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pose", default=runtime.pose_model)
    ap.add_argument("--detector", default=runtime.detector_model or "", help="'' = none")
    ap.add_argument("--topdown", default="blazepose-topdown")
    ap.add_argument("--topdown-detector", default=None, help="default: its manifest's")
    ap.add_argument("--people", default="1,2,5,10,20,40")
    add_timing_arguments(ap, repeats=3)
    args = ap.parse_args()
    host = use_threads(args.threads)
    top_detector = args.topdown_detector or default_detector(args.topdown)
    systems = {
        "bottom-up": load_pipeline(args.pose, args.detector or None),
        "top-down": load_pipeline(args.topdown, top_detector or None),
    }
    counts = [int(p) for p in args.people.split(",")]
    photos = {n: make_photo(n, seed=7000 + n) for n in counts}
    results = measure(systems, photos, args.repeats)
    for key, value in sorted(results.items(), key=lambda kv: kv[0][2]):
        print(key, f"CPU {1000 * value['cpu']:.0f} ms, wall {1000 * value['wall']:.0f} ms, "
              f"persons {value['persons']:.0f}")
    text = report(results, photos, args, top_detector, host)
    print(text)
    if not args.no_write:
        write_section("people_cost", text)
    return 0


def report(results: dict, photos: dict[int, Photo], args: argparse.Namespace,
           top_detector: str | None, host: str) -> str:
    counts = sorted(photos)
    cpu = {k: 1000 * v["cpu"] for k, v in results.items()}
    lines = [
        "## Cost against the number of people: bottom-up against top-down", "",
        f"Command: `.venv/bin/python bench/people_cost.py --pose {args.pose} --detector "
        f"{shell_arg(args.detector)} --topdown {args.topdown} --people {args.people} "
        f"--repeats {args.repeats} --threads {args.threads}`", "",
        f"{host}. Generated {WIDTH}x{HEIGHT} photos (people 20-60% of the image height), "
        "each request end to end in-process (`Pipeline.predict`: working image, boxes, network, "
        f"parse). bottom-up = `{args.pose}` + `{args.detector or 'no detector'}`; top-down = "
        f"`{args.topdown}` (one crop per box) + `{top_detector}`. Medians of {args.repeats} "
        "interleaved rounds, process CPU ms per request (the script also prints wall ms). "
        "Target: bottom-up at 20 people <= 1.3x one person.", "",
        "| people (true) | bottom-up, true boxes | top-down, true boxes | top-down / bottom-up "
        "| bottom-up, own detector (persons) | top-down, own detector (persons) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for n in counts:
        b, t = cpu[("bottom-up", "true boxes", n)], cpu[("top-down", "true boxes", n)]
        bo, to = (results[(s, "own detector", n)] for s in ("bottom-up", "top-down"))
        lines.append(f"| {len(photos[n].boxes)} | {b:.0f} | {t:.0f} | {t / b:.2f} | "
                     f"{1000 * bo['cpu']:.0f} ({bo['persons']:.0f}) | "
                     f"{1000 * to['cpu']:.0f} ({to['persons']:.0f}) |")  # fmt: skip
    people = [len(photos[n].boxes) for n in counts]
    lines += ["", *verdicts(cpu, counts, photos), "", plot(cpu, counts, people), "", SHARED_NOTE]
    return "\n".join(lines)


def verdicts(cpu: dict, counts: list[int], photos: dict[int, Photo]) -> list[str]:
    out = []
    people = [len(photos[n].boxes) for n in counts]
    for mode in MODES:
        bottom = [cpu[("bottom-up", mode, n)] for n in counts]
        top = [cpu[("top-down", mode, n)] for n in counts]
        cross = crossing(people, bottom, top)
        where = ("never, up to the largest count" if cross is None
                 else f"at about {cross:.1f} people")
        out.append(f"- {mode}: top-down costs as much as bottom-up {where}.")
    if 1 in counts and 20 in counts:
        ratio = cpu[("bottom-up", "true boxes", 20)] / cpu[("bottom-up", "true boxes", 1)]
        own = cpu[("bottom-up", "own detector", 20)] / cpu[("bottom-up", "own detector", 1)]
        met = "meets" if ratio <= 1.3 else "misses"
        out.append(f"- bottom-up, 20 people / 1 person: **{ratio:.2f}x** with true boxes "
                   f"({met} the 1.3x target), {own:.2f}x with its own detector.")
    return out


def plot(cpu: dict, counts: list[int], people: list[int]) -> str:
    fig, axes = new_figure(6.0, 3.6)
    for system, colour in (("bottom-up", "tab:blue"), ("top-down", "tab:orange")):
        for mode, style in zip(MODES, ("-", "--"), strict=True):
            axes.plot(people, [cpu[(system, mode, n)] for n in counts], style, color=colour,
                      marker="o", markersize=3, label=f"{system}, {mode}")  # fmt: skip
    axes.set(xlabel="people in the photo", ylabel="CPU ms per request",
             title="End-to-end cost vs people (848x480)")  # fmt: skip
    axes.legend(fontsize=7)
    axes.grid(alpha=0.3)
    return save(fig, "people_cost")


if __name__ == "__main__":
    sys.exit(main())
