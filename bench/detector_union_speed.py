"""What the default detector costs: BlazePose's landmark model served in the boxes of
blazepose-detector (BlazePose's own), detector-union (joined by pose-real's box head, each added
box checked on a crop: the default) and, where the store holds it, detector-union-unchecked
(`boxpose export --union ... --union-verify-grow 0`), side by side in one run.

Photos: the multi-person dev photos of docs/real-photos.md and scikit-image's astronaut. Per
photo and system, in interleaved rounds: the boxes alone (`Pipeline.detect_missing`: working
image + detector) and the whole request (`Pipeline.predict`); medians of this thread's CPU time,
summed over the photos.

    .venv/bin/python bench/detector_union_speed.py [--store DIR] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import SHARED_NOTE, add_timing_arguments, median, timed, use_threads  # noqa: E402
from bench.report import write_section  # noqa: E402
from service.data.real_split import DEFAULT_DATA_ROOT, load_dataset  # noqa: E402
from service.data.sample import read_rgb  # noqa: E402
from service.runtime.factory import load_pipeline  # noqa: E402
from service.runtime.model_store import holds  # noqa: E402
from service.runtime.protocol import ImageInput, PoseModel  # noqa: E402

POSE = "blazepose-topdown"
DETECTORS = ("blazepose-detector", "detector-union", "detector-union-unchecked")
BASELINE = "blazepose-detector"


def served_systems(store: Path | None) -> dict[str, PoseModel]:
    """Detector name -> POSE in its boxes, for each of DETECTORS that `store` holds."""
    return {name: load_pipeline(POSE, name, store=store)
            for name in DETECTORS if holds(name, store)}


def photos(data_root: Path) -> dict[str, np.ndarray]:
    """Name -> RGB image: the multi-person dev photos (when the data is there), the astronaut."""
    from skimage import data

    out = {"astronaut": data.astronaut()}
    if (data_root / "mmpose-testdata").is_dir():
        for record in load_dataset("mmpose", data_root):
            out[f"{record.path.parent.name}/{record.path.name}"] = read_rgb(str(record.path))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", type=Path, default=None, help="model store (default model_store/)")
    ap.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    add_timing_arguments(ap, repeats=3)
    args = ap.parse_args()
    host = use_threads(args.threads)
    systems = served_systems(args.store)
    images = photos(args.data_root)
    boxes: dict[tuple[str, str], list[float]] = {}
    whole: dict[tuple[str, str], list[float]] = {}
    persons: dict[tuple[str, str], int] = {}
    for system in systems.values():  # warm-up: first calls compile and allocate
        system.predict(images["astronaut"])
    for _ in range(args.repeats):
        for photo, image in images.items():
            for name, system in systems.items():
                request = [ImageInput(image, None, system.config.scales)]
                _, t_boxes = timed(lambda s=system, r=request: s.detect_missing(r))
                result, t_whole = timed(lambda s=system, i=image: s.predict(i))
                boxes.setdefault((name, photo), []).append(t_boxes.cpu)
                whole.setdefault((name, photo), []).append(t_whole.cpu)
                persons[(name, photo)] = len(result.poses)
    text = report(systems, images, boxes, whole, persons, args, host)
    print(text)
    if not args.no_write:
        write_section("detector_union_speed", text)
    return 0


def report(systems: dict, images: dict, boxes: dict, whole: dict, persons: dict,
           args: argparse.Namespace, host: str) -> str:
    def total(table: dict, name: str, names: list[str]) -> float:
        return 1000 * sum(median(table[(name, p)]) for p in names)

    store = f" --store {args.store}" if args.store else ""
    dev = [p for p in images if p != "astronaut"]
    lines = [
        "## The default detector's cost: detector-union against BlazePose's own", "",
        f"Command: `.venv/bin/python bench/detector_union_speed.py{store} --repeats "
        f"{args.repeats} --threads {args.threads}`", "",
        f"{host}. {POSE} in each detector's boxes, in-process. Boxes = working image + "
        "detector (`detect_missing`); request = the whole `predict` (boxes, crops, landmark "
        f"model, joints). Medians of {args.repeats} interleaved rounds, this thread's CPU ms, "
        f"summed over the {len(dev)} multi-person dev photos; the astronaut alone beside them.",
        "",
        "| detector | dev: boxes ms | dev: request ms | request / " + BASELINE
        + " | persons answered | astronaut: request ms | astronaut: persons |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    base = total(whole, BASELINE, dev) if BASELINE in systems else float("nan")
    for name in systems:
        request = total(whole, name, dev)
        lines.append(
            f"| {name} | {total(boxes, name, dev):.0f} | {request:.0f} | {request / base:.2f}x | "
            f"{sum(persons[(name, p)] for p in dev)} | {total(whole, name, ['astronaut']):.0f} "
            f"| {persons[(name, 'astronaut')]} |")
    return "\n".join([*lines, "", SHARED_NOTE])


if __name__ == "__main__":
    sys.exit(main())
