"""A detector + box records -> COCO box AP (pycocotools COCOeval, iouType "bbox")."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from service.detector.data import BoxRecord, load_rgb

Detector = Callable[[torch.Tensor], torch.Tensor]  # (1, 3, H, W) RGB 0..255 -> (1, K, 5)


@dataclass(frozen=True)
class BoxAP:
    ap: float  # AP averaged over IoU 0.50:0.95
    ap50: float
    ap75: float
    images: int
    people: int
    detections: int
    # The score threshold with the best F1 at IoU 0.5 (the operating point for the pipeline).
    best_f1: float = 0.0
    f1_threshold: float = 0.3

    def as_dict(self) -> dict[str, float | int]:
        return dict(vars(self))


def _xywh(box: np.ndarray) -> list[float]:
    return [float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])]


def ground_truth(records: list[BoxRecord]) -> dict[str, Any]:
    """Records -> an in-memory COCO dict; ignore regions become iscrowd 1."""
    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    for i, rec in enumerate(records, start=1):
        images.append({"id": i, "width": rec.width, "height": rec.height})
        for crowd, boxes in ((0, rec.boxes), (1, rec.ignore)):
            for box in boxes:
                xywh = _xywh(box)
                anns.append({"id": len(anns) + 1, "image_id": i, "category_id": 1,
                             "bbox": xywh, "area": xywh[2] * xywh[3], "iscrowd": crowd})
    return {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}


def detect_all(detector: Detector, records: list[BoxRecord]) -> list[dict[str, Any]]:
    """Run the detector on each image -> COCO result dicts (score > 0 rows only)."""
    results = []
    for i, rec in enumerate(records, start=1):
        image = torch.from_numpy(load_rgb(rec.path)).permute(2, 0, 1)[None].float()
        with torch.no_grad():
            rows = detector(image)[0].numpy()  # (K, 5)
        for row in rows[rows[:, 4] > 0]:
            results.append({"image_id": i, "category_id": 1, "bbox": _xywh(row[:4]),
                            "score": float(row[4])})
    return results


def box_ap(records: list[BoxRecord], results: list[dict[str, Any]]) -> BoxAP:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    people = sum(len(r.boxes) for r in records)
    if not results:
        return BoxAP(0.0, 0.0, 0.0, len(records), people, 0)
    # COCOeval keeps the top maxDets[-1] per image; the module outputs at most K anyway.
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = ground_truth(records)
        gt.createIndex()
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, iouType="bbox")
        ev.params.maxDets = [1, 10, 100]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    stats = [max(float(v), 0.0) for v in ev.stats[:3]]
    f1, threshold = best_f1(ev.evalImgs)
    return BoxAP(stats[0], stats[1], stats[2], len(records), people, len(results), f1, threshold)


def best_f1(eval_imgs: list[dict[str, Any] | None]) -> tuple[float, float]:
    """COCOeval per-image matches (area "all", IoU 0.5) -> (best F1, its score threshold)."""
    scores, hits, num_gt = [], [], 0
    for e in eval_imgs:
        if e is None or list(e["aRng"]) != [0, 1e10]:
            continue
        num_gt += int((~np.asarray(e["gtIgnore"], bool)).sum())
        keep = ~np.asarray(e["dtIgnore"], bool)[0]
        scores.append(np.asarray(e["dtScores"])[keep])
        hits.append(np.asarray(e["dtMatches"])[0][keep] > 0)
    if not scores or num_gt == 0:
        return 0.0, 0.3
    order = np.argsort(-np.concatenate(scores), kind="stable")
    sorted_scores = np.concatenate(scores)[order]
    tp = np.cumsum(np.concatenate(hits)[order])
    if len(tp) == 0:
        return 0.0, 0.3
    precision, recall = tp / np.arange(1, len(tp) + 1), tp / num_gt
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-9)
    i = int(np.argmax(f1))
    return float(f1[i]), float(sorted_scores[i])


def evaluate_detector(detector: Detector, records: list[BoxRecord]) -> BoxAP:
    return box_ap(records, detect_all(detector, records))
