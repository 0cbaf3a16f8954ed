"""What the pose target (AP >= 75 with AIC sigmas, single scale, ground-truth boxes) asks of a
model on a COCO keypoint file (default: the project's synthetic validation set).

Side by side, in one run, on the same people:
- the ground truth itself with Gaussian noise on every joint (the issue's calibration: at about
  190 px, 1 px scores 94, 2 px 70, 4 px 32), then exact visible joints with noisy hidden ones,
  and hidden joints left out (reported at (0, 0), as a parser reports a joint it did not find);
- oracle maps drawn from all labelled joints, and from the visible joints only (a network that
  localises everything it sees exactly and guesses nothing behind an occluder), both parsed by
  the box parser in the ground-truth boxes.

Rerun (the two sets of docs/data.md: the validation set, and one whose people measure about
190 px like the issue's calibration):

    .venv/bin/python bench/target_bounds.py --annotations data/val/annotations.json \
        data/val-calibration/annotations.json --write

`--write` rewrites its section of BENCHMARKS.md (`bench:target_bounds`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import write_section  # noqa: E402
from service.evaluation.coco_eval import (  # noqa: E402
    evaluate_keypoints,
    sigmas_for,
    skeleton_from_category,
)
from service.evaluation.oracle import oracle_results  # noqa: E402
from service.evaluation.perturb import perturbed_results  # noqa: E402

VAL = ROOT / "data" / "val" / "annotations.json"  # docs/data.md
# (visible px, hidden px, hidden left out)
NOISE_ROWS = [(1, 1, False), (2, 2, False), (4, 4, False), (0, 2, False), (0, 4, False),
              (0, 8, False), (0, 16, False), (0, 0, True), (1, 4, False), (2, 8, False)]


def _people(gt: dict) -> tuple[int, float, float, float]:
    anns = [a for a in gt["annotations"] if not a.get("iscrowd") and a["num_keypoints"] > 0]
    kp = np.array([a["keypoints"] for a in anns], dtype=np.float64).reshape(len(anns), -1, 3)
    size = np.sqrt([a["area"] for a in anns])
    hidden = float((kp[..., 2] == 1).sum() / max((kp[..., 2] > 0).sum(), 1))
    return len(anns), float(np.median(size)), float(np.percentile(size, 90)), hidden


def _generated(gt: dict) -> str:
    """How `boxpose synth` made the file (its info), in a few words."""
    info = gt.get("info", {})
    cfg = info.get("config", {})
    if not cfg:
        return "not generated here"
    return (f"seed {info.get('seed')}, people {cfg['min_height']:.0%}-{cfg['max_height']:.0%} of"
            " the image height")


def _ap(gt: dict, results: list[dict], ids: list[int], sigmas: np.ndarray) -> tuple[float, ...]:
    stats = evaluate_keypoints(gt, results, sigmas, ids)
    return tuple(100 * stats[k] for k in ("AP", "AP50", "AP75"))


def table(annotations: Path, seed: int) -> str:
    """The markdown table of one COCO keypoint file."""
    gt = json.loads(annotations.read_text())
    skeleton = skeleton_from_category(gt["categories"][0])
    sigmas = sigmas_for(skeleton, "aic")
    ids = [int(image["id"]) for image in gt["images"]]
    people, median, p90, hidden = _people(gt)

    rows = []
    for visible_px, hidden_px, drop in NOISE_ROWS:
        rng = np.random.default_rng(seed)
        results = perturbed_results(gt, visible_px, hidden_px, rng, drop_hidden=drop)
        what = (f"ground truth, visible joints +{visible_px} px, "
                + ("hidden joints left out" if drop else f"hidden +{hidden_px} px"))
        rows.append((what, *_ap(gt, results, ids, sigmas)))
    for joints in ("all", "visible"):
        results, oracle_ids = oracle_results(gt, skeleton, "boxes", joints=joints)
        rows.append((f"oracle maps from {joints} labelled joints, box parser in GT boxes",
                     *_ap(gt, results, oracle_ids, sigmas)))
    path = annotations.resolve()
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    return "\n".join([
        f"`{shown}` ({_generated(gt)}): {len(ids)} images, {people} people,"
        f" size (square root of box area) median {median:.0f} px, 90th percentile {p90:.0f} px;"
        f" {100 * hidden:.1f}% of the labelled joints are hidden (v = 1).",
        "",
        "| predictions | AP | AP50 | AP75 |",
        "|---|---|---|---|",
        *[f"| {what} | {ap:.2f} | {ap50:.2f} | {ap75:.2f} |" for what, ap, ap50, ap75 in rows],
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--annotations", type=Path, nargs="+", default=[VAL])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true", help="write the BENCHMARKS.md section")
    args = parser.parse_args()
    for path in args.annotations:
        if not path.is_file():
            raise SystemExit(f"{path} not found: generate it (docs/data.md)")
    text = "\n\n".join([
        "## What the pose target asks (AIC sigmas, ground-truth boxes)",
        f"`bench/target_bounds.py`; noise is per coordinate (Gaussian, seed {args.seed}).",
        *[table(path, args.seed) for path in args.annotations],
    ])
    print(text)
    if args.write:
        write_section("target_bounds", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
