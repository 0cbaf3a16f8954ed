"""A stored detector + a COCO keypoint file -> its box AP alone (pycocotools, iouType bbox), the
line `boxpose eval --detector` prints after the keypoint AP."""

from __future__ import annotations

from pathlib import Path


def stored_detector_ap(name: str, annotations: Path, images: Path, limit: int | None) -> str:
    """Box AP, AP50 and AP75 of detector `name` on the first `limit` images (all: None)."""
    from service.detector.data import read_coco_boxes
    from service.detector.evaluate import evaluate_detector
    from service.runtime.model_store import load_model

    detector = load_model(name)
    records = read_coco_boxes(Path("."), limit, annotations, images)
    ap = evaluate_detector(detector.module, records)
    return (f"box AP {100 * ap.ap:.2f}  AP50 {100 * ap.ap50:.2f}  AP75 {100 * ap.ap75:.2f} "
            f"({ap.images} images, {ap.people} people)")
