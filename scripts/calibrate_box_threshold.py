"""A box-head pose model's score threshold, chosen on training photos (never on the dev split).

Runs the model's own box head (no client boxes, no detector) on coco-mini-train (every person
annotated, crowds marked), matches them one to one to the ground-truth boxes at IoU >= 0.5, and
prints precision, recall and F1 per threshold; the threshold with the best F1 is the one to
write as `box_head.recommended_score_threshold` (--manifest-extra of `boxpose export`).

    BOXPOSE_MODEL_STORE=/tmp/store .venv/bin/python scripts/calibrate_box_threshold.py pose-real
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.data.real_split import DEFAULT_DATA_ROOT, load_dataset  # noqa: E402
from service.data.sample import read_rgb  # noqa: E402
from service.evaluation.real_eval import greedy_assign, iou  # noqa: E402
from service.runtime.factory import load_pipeline  # noqa: E402
from service.runtime.protocol import ImageInput, PipelineConfig  # noqa: E402

THRESHOLDS = (0.02, 0.05, 0.08, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="a pose model with a box head, in the model store")
    ap.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    args = ap.parse_args()
    lowest = min(THRESHOLDS)
    pipeline = load_pipeline(args.model, None, config=PipelineConfig(
        detector_threshold=lowest))
    if not pipeline.box_head:
        raise SystemExit(f"{args.model} has no box head")
    records = load_dataset("coco-mini", args.data_root)
    found: list[np.ndarray] = []  # per image (B, 5) boxes in original pixels
    for record in records:
        image = read_rgb(str(record.path))
        boxes = pipeline.detect_missing([ImageInput(image, None, (1.0,))])[0] or []
        found.append(np.array([[*b.as_list(), b.score] for b in boxes]).reshape(-1, 5))
    people = sum(r.num_people for r in records)
    print(f"{args.model}: {len(records)} coco-mini-train photos, {people} people")
    print("| threshold | boxes | matched (IoU >= 0.5) | precision | recall | F1 |")
    print("|---|---|---|---|---|---|")
    best = (-1.0, lowest)
    for t in THRESHOLDS:
        kept = [b[b[:, 4] >= t] for b in found]
        matched = sum(int((greedy_assign(iou(r.boxes, b[:, :4]), 0.5) >= 0).sum())
                      for r, b in zip(records, kept, strict=True) if len(b))  # fmt: skip
        count = sum(len(b) for b in kept)
        precision, recall = matched / max(count, 1), matched / max(people, 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-9)
        best = max(best, (f1, t))
        print(f"| {t:g} | {count} | {matched} | {precision:.3f} | {recall:.3f} | {f1:.3f} |")
    print(f"best F1 {best[0]:.3f} at threshold {best[1]:g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
