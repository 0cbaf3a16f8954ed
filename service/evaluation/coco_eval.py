"""Poses + COCO-format ground truth -> keypoint AP (pycocotools) with a skeleton's OKS sigmas."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np

from service.skeleton import AIC14, COCO_SIGMAS_ON_AIC14, SKELETONS, Skeleton
from service.types import Pose

STAT_NAMES = ("AP", "AP50", "AP75", "APM", "APL", "AR", "AR50", "AR75", "ARM", "ARL")


def sigmas_for(skeleton: Skeleton, name: str) -> np.ndarray:
    """"aic": AI Challenger's sigmas; "coco": COCO's sigmas (placed on AIC-14 joints for AIC-14).

    A non-AIC skeleton has only its own sigmas, which "coco" names.
    """
    if skeleton.name == AIC14.name:
        table = {"aic": AIC14.sigmas, "coco": COCO_SIGMAS_ON_AIC14}
    else:
        table = {"coco": skeleton.sigmas}
    if name not in table:
        raise ValueError(f"sigmas {name!r} not defined for skeleton {skeleton.name}: {list(table)}")
    return np.asarray(table[name], dtype=np.float64)


def skeleton_from_category(category: dict[str, Any]) -> Skeleton:
    """A COCO category's keypoint names -> the project skeleton with those joints."""
    names = tuple(category.get("keypoints", ()))
    for skeleton in SKELETONS.values():
        if skeleton.joints == names:
            return skeleton
    raise ValueError(f"no project skeleton has the joints {names}")


def poses_to_results(poses: list[Pose], image_id: int, category_id: int = 1) -> list[dict]:
    """Poses -> COCO results entries (keypoints x, y, score flattened; score = pose score)."""
    return [
        {
            "image_id": int(image_id),
            "category_id": int(category_id),
            "keypoints": [round(float(v), 3) for v in pose.keypoints.ravel()],
            "score": float(pose.score),
        }
        for pose in poses
    ]


def evaluate_keypoints(
    ground_truth: dict[str, Any], results: list[dict], sigmas: np.ndarray,
    image_ids: list[int] | None = None,
) -> dict[str, float]:
    """COCO keypoint evaluation (OKS with `sigmas`, doubled inside pycocotools as COCO does)
    -> {"AP", "AP50", "AP75", "APM", "APL", "AR", ...}. No results at all scores 0."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if not results:
        return dict.fromkeys(STAT_NAMES, 0.0)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = ground_truth
        gt.createIndex()
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, iouType="keypoints")
        ev.params.kpt_oks_sigmas = np.asarray(sigmas, dtype=np.float64)
        if image_ids is not None:
            ev.params.imgIds = sorted(image_ids)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {name: float(v) for name, v in zip(STAT_NAMES, ev.stats, strict=True)}


def format_stats(stats: dict[str, float], keys: tuple[str, ...] = STAT_NAMES[:5]) -> str:
    """One line "AP 0.912  AP50 ...", in percent."""
    return "  ".join(f"{k} {100 * stats[k]:.2f}" for k in keys)
