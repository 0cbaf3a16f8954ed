"""Issue 13's speed targets: pose-real (its own box head, one model) against today's
detector-lite + pose-lite, side by side in one run.

Generated 848x480 photos (`boxpose synth`'s generator, as `bench/people_cost.py`) with 1, 5 and
20 people; each request end to end as `Pipeline.predict` runs it (working image, boxes, network,
parse), with the true boxes given and with each system's own boxes; pose-real with its person
scale (the default: box pass at 256 px, pose pass where the median person is 200 px,
`service/runtime/person_scale.py`) and at the fixed 848-px working image (`@fixed`). Systems and
photos interleaved in every round; medians of process CPU time.

Targets: pose-real's own-box request no slower than detector-lite + pose-lite's; 20 people at
most 1.3x one person.

    .venv/bin/python bench/pose_real_speed.py --store /tmp/store [--repeats 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import SHARED_NOTE, add_timing_arguments, use_threads  # noqa: E402
from bench.people_cost import MODES, make_photo, measure  # noqa: E402
from bench.report import write_section  # noqa: E402
from service.runtime.factory import load_pipeline  # noqa: E402
from service.runtime.protocol import PipelineConfig  # noqa: E402

COUNTS = (1, 5, 20)
SYSTEMS = {  # name -> (pose, detector, person scale)
    "pose-real": ("pose-real", None, True),
    "pose-real@fixed": ("pose-real", None, False),
    "pose-lite + detector-lite": ("pose-lite", "detector-lite", True),
}
BASELINE = "pose-lite + detector-lite"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", type=Path, default=None, help="model store holding pose-real")
    add_timing_arguments(ap, repeats=5)
    args = ap.parse_args()
    host = use_threads(args.threads)
    systems = {name: load_pipeline(pose, detector, store=args.store,
                                         config=PipelineConfig(person_scale=scaled))
               for name, (pose, detector, scaled) in SYSTEMS.items()}  # fmt: skip
    photos = {n: make_photo(n, seed=7000 + n) for n in COUNTS}
    results = measure(systems, photos, args.repeats)
    text = report({k: 1000 * v["cpu"] for k, v in results.items()}, results, photos, args, host)
    print(text)
    if not args.no_write:
        write_section("pose_real_speed", text)
    return 0


def report(cpu: dict, results: dict, photos: dict, args: argparse.Namespace, host: str) -> str:
    store = f" --store {args.store}" if args.store else ""
    head = ["people (true)"] + [f"{s}, {m}" for s in SYSTEMS for m in MODES]
    lines = [
        "## pose-real's speed against detector-lite + pose-lite (issue 13)", "",
        f"Command: `.venv/bin/python bench/pose_real_speed.py{store} --repeats {args.repeats} "
        f"--threads {args.threads}`", "",
        f"{host}. Generated 848x480 photos; each request end to end in-process "
        "(`Pipeline.predict`). pose-real: its own box head (one TorchScript module), with the "
        "person scale (the default) and at the fixed working image (`@fixed`); own detector = "
        "the box head for pose-real. Medians of "
        f"{args.repeats} interleaved rounds, process CPU ms per request (persons answered).", "",
        "| " + " | ".join(head) + " |", "|---:" * len(head) + "|",
    ]
    for n in COUNTS:
        cells = [str(len(photos[n].boxes))]
        for s in SYSTEMS:
            for m in MODES:
                cells.append(f"{cpu[(s, m, n)]:.0f} ({results[(s, m, n)]['persons']:.0f})")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for s in ("pose-real", "pose-real@fixed"):
        one = cpu[(s, "own detector", 1)] / cpu[(BASELINE, "own detector", 1)]
        many = [cpu[(s, m, 20)] / cpu[(s, m, 1)] for m in MODES]
        lines.append(f"- {s}: one person, own boxes, **{one:.2f}x** the time of {BASELINE} "
                     f"({'meets' if one <= 1.0 else 'misses'} the target of at most 1x); "
                     f"20 people / 1 person **{many[0]:.2f}x** with true boxes, "
                     f"{many[1]:.2f}x with its own boxes (target <= 1.3x).")
    return "\n".join([*lines, "", SHARED_NOTE])


if __name__ == "__main__":
    sys.exit(main())
