"""COCO ground truth -> the same people with Gaussian noise on their joints, as results.

What AP a given localisation error costs on a data set: the calibration behind the target AP
(bench/target_bounds.py). Visible (v = 2) and hidden (v = 1) joints get their own noise, since a
network sees the first and can only guess the second.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def perturbed_results(
    ground_truth: dict[str, Any], visible_px: float, hidden_px: float,
    rng: np.random.Generator, drop_hidden: bool = False,
) -> list[dict[str, Any]]:
    """Every evaluated person (not crowd, some joint labelled) as a result with score 1: each
    coordinate moved by N(0, visible_px^2) or N(0, hidden_px^2). drop_hidden: hidden joints are
    predicted at (0, 0), as a parser that found nothing there reports them."""
    results = []
    for ann in ground_truth["annotations"]:
        if ann.get("iscrowd", 0) or ann.get("num_keypoints", 0) == 0:
            continue
        kp = np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1, 3)  # (J, 3)
        hidden = kp[:, 2] == 1
        spread = np.where(hidden, hidden_px, visible_px)[:, None]  # (J, 1)
        xy = kp[:, :2] + rng.normal(size=(len(kp), 2)) * spread
        if drop_hidden:
            xy[hidden] = 0.0
        out = np.concatenate([xy, (~(hidden & drop_hidden))[:, None].astype(np.float64)], axis=1)
        results.append({"image_id": ann["image_id"], "category_id": ann.get("category_id", 1),
                        "keypoints": out.ravel().tolist(), "score": 1.0})  # fmt: skip
    return results
