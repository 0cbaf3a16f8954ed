"""A 12-megapixel photo against an 848-px one, end to end, and the smallest person found.

Both photos show the same generated scene (`boxpose synth`'s generator, 848x630), the large one
upscaled to 4084x3036 with a little sensor noise, both saved as JPEG quality 90. Each request is
what the service does: decode to the working size, detector, pose net, parsing, JSON; the two
photos alternate (interleaved repeats) and the medians are compared. One request of the large
photo with the working size off (0: the models see all 12 MP, the service before the working
resolution) shows what it replaced. Then single generated people of known height in an 848x630
working image: the share found (PCK@0.2 of their height on at least half their joints), served
(own detector) and in their true box.

Run: .venv/bin/python bench/working_resolution.py [--repeats 15] [--threads 1] [--per-size 20]
Prints the figures and rewrites its section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.report import write_section  # noqa: E402
from service.config import Settings  # noqa: E402
from service.data.synth.scene import SynthConfig, generate_scene  # noqa: E402
from service.evaluation.real_eval import poses_to_aic14  # noqa: E402
from service.runtime.factory import PIPELINES, from_settings, load_pipeline  # noqa: E402
from service.runtime.images import decode_image, jpeg_reduction  # noqa: E402
from service.runtime.protocol import PipelineConfig, PoseModel  # noqa: E402
from service.runtime.serialise import pose_dict  # noqa: E402
from service.runtime.working import working_shape  # noqa: E402
from service.types import Box  # noqa: E402

BIG, SMALL = (4084, 3036), (848, 630)  # (width, height)
MAX_PIXELS = 40_000_000  # the service's default limit
# Person heights in working-image pixels.
HEIGHTS = (12, 16, 20, 30, 40, 50, 60, 80, 100, 130, 170, 220)


def jpeg(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def make_photos(seed: int) -> dict[str, bytes]:
    """The same scene as an 848x630 JPEG and as a 4084x3036 one (upscaled, sensor noise)."""
    config = SynthConfig(min_people=3, max_people=5, min_height=0.3, max_height=0.8)
    scene = generate_scene(np.random.default_rng(seed), *SMALL, config)
    big = np.asarray(cv2.resize(scene.image, BIG, interpolation=cv2.INTER_CUBIC), np.float32)
    big += np.random.default_rng(seed).normal(0.0, 3.0, big.shape).astype(np.float32)
    return {"4084x3036": jpeg(big.clip(0, 255).astype(np.uint8)), "848x630": jpeg(scene.image)}


def answer(pipeline: PoseModel, data: bytes) -> tuple[float, float, float, float, int]:
    """One request as the service runs it -> (total, decode, models, parse) s, persons."""
    start = time.perf_counter()
    image = decode_image(data, MAX_PIXELS, pipeline.working_size)
    decoded = time.perf_counter()
    result = pipeline.predict(image.rgb, size=(image.height, image.width))
    body = json.dumps({"persons": [pose_dict(p) for p in result.poses]})
    assert body
    t = result.timings
    total = time.perf_counter() - start
    return total, decoded - start, t.detect + t.forward, t.parse, len(result.poses)


def compare(pipeline: PoseModel, photos: dict[str, bytes], repeats: int) -> dict[str, dict]:
    """Interleaved repeats of every photo -> per photo medians (s) and persons found."""
    for data in photos.values():
        answer(pipeline, data)  # warm-up
    runs: dict[str, list[tuple[float, float, float, float, int]]] = {n: [] for n in photos}
    for _ in range(repeats):
        for name, data in photos.items():
            runs[name].append(answer(pipeline, data))
    keys = ("total", "decode", "models", "parse")
    return {name: {**{k: statistics.median(r[i] for r in rows) for i, k in enumerate(keys)},
                   "persons": rows[-1][4], "bytes": len(photos[name])}
            for name, rows in runs.items()}  # fmt: skip


def full_size_once(pipeline: PoseModel, data: bytes) -> tuple[float, int]:
    """The large photo with the working size off (the models on all 12 MP) -> (s, persons)."""
    whole = PIPELINES[pipeline.pose.kind](pipeline.pose, pipeline.detector,
                                          PipelineConfig(working_size=0))
    total, *_, persons = answer(whole, data)
    return total, persons


def found(pose_keypoints: np.ndarray, truth: np.ndarray, height: float) -> bool:
    """At least half of the labelled joints within 0.2 x the person's height (PCK@0.2)."""
    labelled = truth[:, 2] > 0
    near = np.linalg.norm(pose_keypoints[:, :2] - truth[:, :2], axis=1) <= 0.2 * height
    hits = near & (pose_keypoints[:, 2] > 0) & labelled
    return bool(labelled.any() and hits.sum() >= 0.5 * labelled.sum())


def smallest_person(pipeline: PoseModel, per_size: int, seed: int) -> list[dict[str, float]]:
    """One standing or walking person of each height (working px) per scene, no distractor ->
    the share found served and in the true box."""
    rows = []
    for height in HEIGHTS:
        served = boxed = total = 0
        fraction = height / SMALL[1]
        config = SynthConfig(min_people=1, max_people=1, min_height=fraction,
                             max_height=fraction, p_distractor=0.0,
                             kinds=("standing", "walking"))  # fmt: skip
        for i in range(per_size):
            scene = generate_scene(np.random.default_rng(seed + 1000 * height + i), *SMALL, config)
            if len(scene.boxes) != 1:
                continue
            truth, (x1, y1, x2, y2) = scene.keypoints[0], scene.boxes[0]
            total += 1
            poses = pipeline.predict(scene.image).poses  # the scene's truth is AIC-14
            served += any(found(kp, truth, height)
                          for kp in poses_to_aic14(poses, pipeline.skeleton))  # fmt: skip
            own = pipeline.predict(scene.image, [Box(x1, y1, x2, y2)]).poses[0]
            boxed += found(poses_to_aic14([own], pipeline.skeleton)[0], truth, height)
        rows.append({"height": height, "people": total, "served": served / max(total, 1),
                     "boxed": boxed / max(total, 1)})  # fmt: skip
    return rows


def smallest(rows: list[dict[str, float]], key: str, share: float) -> int | None:
    """The smallest height from which every taller one is found at least `share` of the time."""
    good = [r["height"] for r in rows if r[key] >= share]
    tail = [h for h in good if all(r[key] >= share for r in rows if r["height"] >= h)]
    return int(min(tail)) if tail else None


def timing_lines(args: argparse.Namespace, pipeline: PoseModel, medians: dict[str, dict],
                 whole: tuple[float, int] | None) -> list[str]:  # fmt: skip
    big, small = medians["4084x3036"], medians["848x630"]
    detector = pipeline.detector.name if pipeline.detector else "-"
    work_long = max(working_shape(BIG[1], BIG[0], pipeline.working_size))
    factor = jpeg_reduction(max(BIG), work_long)
    lines = [
        "## Working resolution: a 12 MP photo against an 848-px one",
        "",
        f"`bench/working_resolution.py --repeats {args.repeats} --threads {args.threads} "
        f"--per-size {args.per_size}`: bundled `{pipeline.pose.name}` + `{detector}`, CPU, "
        f"torch {torch.__version__}, working size {pipeline.working_size} (long side). The same "
        "generated scene as a JPEG (quality 90) of each size, end to end as the service runs "
        "it (decode to the working size, detector, pose net, parsing, JSON), the two "
        "interleaved, medians (a 2-core machine shared with other jobs):",
        "",
        "| photo | JPEG bytes | decode ms | models ms | parse ms | end to end ms | persons |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in medians.items():
        lines.append(f"| {name} | {m['bytes']:,} | {m['decode'] * 1e3:.1f} | "
                     f"{m['models'] * 1e3:.0f} | {m['parse'] * 1e3:.0f} | "
                     f"{m['total'] * 1e3:.0f} | {m['persons']} |")  # fmt: skip
    lines += ["", f"**Ratio 12 MP / 848 px: {big['total'] / small['total']:.2f}x** (target "
              f"at most 1.3x). libjpeg decodes the large JPEG at 1/{factor} of each side, "
              "which is then resized to the working size."]  # fmt: skip
    if whole is not None:
        lines += ["", f"Before (working size 0: the models on all 12 MP): one request took "
                  f"{whole[0]:.1f} s ({whole[0] / big['total']:.0f}x), over the 10 s default "
                  f"deadline on this machine; {whole[1]} persons."]  # fmt: skip
    return lines


def smallest_lines(args: argparse.Namespace, pipeline: PoseModel,
                   rows: list[dict[str, float]]) -> list[str]:  # fmt: skip
    scale = max(BIG) / pipeline.working_size
    lines = [
        "",
        "Smallest person found at the working size: one generated standing or walking "
        f"person per 848x630 image, {args.per_size} images per height; found = PCK@0.2 of its "
        "height on at least half its labelled joints; in a 4084x3036 photo a working-image "
        f"pixel is {scale:.2f} original pixels.",
        "",
        "| height (working px) | in a 12 MP photo (px) | found, served | found, true box |",
        "|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['height']} | {r['height'] * scale:.0f} | {r['served']:.0%} | "
                     f"{r['boxed']:.0%} |")  # fmt: skip
    lines.append("")
    for key, label in (("served", "served (own detector)"), ("boxed", "in the true box")):
        found_at = []
        for share in (0.5, 0.9):
            h = smallest(rows, key, share)
            where = f"{h} working px ({h * scale:.0f} px in the photo)" if h else "none"
            found_at.append(f"{share:.0%} from {where}")
        lines.append(f"- {label}: found at least {' and '.join(found_at)}.")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--per-size", type=int, default=20, help="people per height")
    parser.add_argument("--seed", type=int, default=424242)
    parser.add_argument("--skip-full-size", action="store_true", help="skip the 12 MP run")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--pose", help="pose model (default: the service's, with its boxes)")
    parser.add_argument("--detector", help="detector for --pose (default: none)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.pose:
        pipeline = load_pipeline(args.pose, args.detector)
    else:  # what `make serve` serves: Settings' models and options, on the CPU
        pipeline = from_settings(Settings(device="cpu"))
    photos = make_photos(args.seed)
    medians = compare(pipeline, photos, args.repeats)
    for name, m in medians.items():
        print(f"{name}: {m['bytes']} bytes, decode {m['decode'] * 1e3:.1f} ms, models "
              f"{m['models'] * 1e3:.0f} ms, parse {m['parse'] * 1e3:.0f} ms, end to end "
              f"{m['total'] * 1e3:.0f} ms, {m['persons']} persons")  # fmt: skip
    ratio = medians["4084x3036"]["total"] / medians["848x630"]["total"]
    print(f"ratio 12 MP / 848 px: {ratio:.3f}")
    whole = None if args.skip_full_size else full_size_once(pipeline, photos["4084x3036"])
    if whole is not None:
        print(f"working size 0 (all 12 MP): {whole[0]:.2f} s, {whole[1]} persons")
    rows = smallest_person(pipeline, args.per_size, args.seed)
    for r in rows:
        print(r)
    text = "\n".join(timing_lines(args, pipeline, medians, whole)
                     + smallest_lines(args, pipeline, rows))  # fmt: skip
    if not args.no_write:
        write_section("working_resolution", text)
    print(text)


if __name__ == "__main__":
    main()
