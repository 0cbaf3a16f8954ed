"""The package's CenterNet person detector (`centernet-persons`, `boxpose import human-models
--detector`) as tf-pose's box source on the real dev split, beside the store's detectors, in one
run: the same rows as bench/bottomup_default.py's box sources (keypoint AP with the true and the
served boxes, per subset, box AP50, seconds and CPU seconds per photo), plus `cut=X` (the
detector's score threshold; else its manifest's).

The converted detector lives in the user's store (~/.cache/boxpose/models), the others in the
repository's: both are copied into one scratch store for the run.

    .venv/bin/python bench/human_models_detector.py [--write]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bottomup_default import config_of, measure, row, true_key  # noqa: E402
from bench.report import write_section  # noqa: E402
from service.data.real_split import DEFAULT_DATA_ROOT, DEV_SUBSETS, load_dataset  # noqa: E402
from service.errors import BoxposeError  # noqa: E402
from service.evaluation.real_report import ModeReport  # noqa: E402
from service.importers.centernet_export import DEFAULT_STORE, NAME  # noqa: E402
from service.runtime.factory import load_pipeline  # noqa: E402
from service.runtime.model_store import MODEL_STORE  # noqa: E402
from service.runtime.protocol import PoseModel  # noqa: E402

SPECS = ["tf-pose", "tf-pose+blazepose-detector@nosupplement",
         "tf-pose+detector-union@nosupplement", f"tf-pose+{NAME}@nosupplement",
         f"tf-pose+{NAME}@nosupplement,cut=0.2", f"tf-pose+{NAME}@nosupplement,cut=0.4",
         "tf-pose+detector-union@supplement", f"tf-pose+{NAME}@supplement",
         f"tf-pose+{NAME}@supplement,cut=0.2"]  # fmt: skip


def scratch_store(user_store: Path, extra: tuple[str, ...] = ()) -> Path:
    """A scratch store holding the repository's models, the converted detector and the user
    store's `extra` models."""
    store = Path(tempfile.mkdtemp(prefix="boxpose-detectors-"))
    for model in sorted(MODEL_STORE.iterdir()):
        if (model / "manifest.json").is_file():
            shutil.copytree(model, store / model.name)
    if not (user_store / NAME / "manifest.json").is_file():
        raise SystemExit(f"no {user_store / NAME}: run `boxpose import human-models --detector`")
    for name in (NAME, *extra):
        shutil.copytree(user_store / name, store / name)
    return store


def load(spec: str, store: Path) -> PoseModel | str:
    models, _, options = spec.partition("@")
    pose, _, detector = models.partition("+")
    cuts = [float(o.partition("=")[2]) for o in options.split(",") if o.startswith("cut=")]
    config = config_of(",".join(o for o in options.split(",") if not o.startswith("cut=")))
    if cuts:
        config = replace(config, detector_threshold=cuts[0])
    try:
        return load_pipeline(pose, detector or None, device="cpu", store=store, config=config)
    except BoxposeError as exc:
        return str(exc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--user-store", type=Path, default=DEFAULT_STORE)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--specs", nargs="*", default=SPECS)
    parser.add_argument("--extra", nargs="*", default=[],
                        help="more models of the user store to serve (e.g. movenet-fields)")
    parser.add_argument("--write", action="store_true", help="write BENCHMARKS.md's section")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    store = scratch_store(args.user_store, tuple(args.extra))
    threshold = json.loads((store / NAME / "manifest.json").read_text()).get(
        "recommended_score_threshold")
    multi = load_dataset("mmpose", DEFAULT_DATA_ROOT)
    head = ["spec", "AP true boxes", "AP served", "AP50", "AP75", *DEV_SUBSETS, "box AP50",
            "s / photo", "CPU s / photo"]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    print("\n".join(lines), flush=True)
    true_by_pose: dict[str, ModeReport] = {}
    for spec in args.specs:
        pipeline = load(spec, store)
        if isinstance(pipeline, str):
            lines.append(f"| `{spec}` | skipped: {pipeline} |")
            continue
        key = true_key(",".join(o for o in spec.split(",") if not o.startswith("cut=")))
        if key not in true_by_pose:
            true_by_pose[key] = measure(pipeline, multi, "true")[0]
        served, cpu_s = measure(pipeline, multi, "served")
        lines.append(row(spec, true_by_pose[key], served, cpu_s))
        print(lines[-1], flush=True)
    shutil.rmtree(store, ignore_errors=True)
    people = sum(r.num_people for r in multi)
    text = "\n".join(["## The package's CenterNet as tf-pose's person detector (issue 27)", "",
                      f"Command: `.venv/bin/python bench/human_models_detector.py --write`; "
                      f"{time.perf_counter() - start:.0f} s, {args.threads} torch threads, 2 "
                      f"shared cores. Dev split: {len(multi)} photos, {people} people. "
                      f"`{NAME}`: `boxpose import human-models --detector`; `cut=X`: its "
                      f"score threshold (else the manifest's, {threshold}).", "", *lines, ""])
    print(text)
    if args.write:
        write_section("human_models_detector", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
