"""Box AP and the F1 operating point from pycocotools on hand-made detections."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from service.detector.data import BoxRecord
from service.detector.evaluate import box_ap

RECORDS = [
    BoxRecord(Path("a.jpg"), 100, 100, np.array([[10.0, 10.0, 30.0, 60.0], [50, 20, 80, 90]]),
              np.array([[0.0, 90.0, 10.0, 100.0]])),
    BoxRecord(Path("b.jpg"), 100, 100, np.array([[20.0, 20.0, 40.0, 70.0]]), np.zeros((0, 4))),
]


def _det(image_id: int, box: list[float], score: float) -> dict[str, object]:
    x1, y1, x2, y2 = box
    return {"image_id": image_id, "category_id": 1, "bbox": [x1, y1, x2 - x1, y2 - y1],
            "score": score}


def test_perfect_detections_score_one_and_ignore_regions_do_not_count() -> None:
    results = [_det(1, [10, 10, 30, 60], 0.9), _det(1, [50, 20, 80, 90], 0.8),
               _det(2, [20, 20, 40, 70], 0.7), _det(1, [0, 90, 10, 100], 0.95)]  # on an ignore
    ap = box_ap(RECORDS, results)
    assert ap.ap50 == pytest.approx(1.0) and ap.ap == pytest.approx(1.0)
    assert ap.people == 3 and ap.best_f1 == pytest.approx(1.0)
    assert ap.f1_threshold == pytest.approx(0.7)


def test_false_positives_and_misses_lower_ap50_and_set_the_threshold() -> None:
    results = [_det(1, [10, 10, 30, 60], 0.9), _det(2, [60, 60, 90, 90], 0.6),
               _det(2, [22, 22, 41, 72], 0.5)]  # the second person of image 1 is missed
    ap = box_ap(RECORDS, results)
    assert 0.3 < ap.ap50 < 1.0
    # score >= 0.9: P 1, R 1/3 (F1 0.5); >= 0.5: P 2/3, R 2/3 (F1 2/3, the best)
    assert ap.best_f1 == pytest.approx(2 / 3) and ap.f1_threshold == pytest.approx(0.5)
    assert box_ap(RECORDS, []).ap50 == 0.0
