"""Poses + COCO-format ground truth -> keypoint AP (pycocotools) with a skeleton's OKS sigmas."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np

from service.skeleton import (
    AIC14,
    COCO17_JOINTS,
    COCO18,
    COCO_SIGMAS_ON_AIC14,
    SKELETONS,
    Skeleton,
)
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
    """A COCO category's keypoint names -> the project skeleton with those joints; COCO's own
    17 -> COCO-18 (the same joints and a neck derived from the shoulders)."""
    names = tuple(category.get("keypoints", ()))
    if names == COCO17_JOINTS:
        return COCO18
    for skeleton in SKELETONS.values():
        if skeleton.joints == names:
            return skeleton
    raise ValueError(f"no project skeleton has the joints {names}")


def truth_joints(ground_truth: dict[str, Any]) -> tuple[str, ...]:
    """The keypoint names of a COCO file's (first) category, in its order."""
    return tuple(str(n) for n in ground_truth["categories"][0].get("keypoints", ()))


def joint_columns(skeleton: Skeleton, names: tuple[str, ...]) -> list[int]:
    """(K,) the index in `skeleton` of each named joint; ValueError naming any it lacks."""
    missing = [n for n in names if n not in skeleton.joints]
    if missing:
        raise ValueError(f"skeleton {skeleton.name} has no {missing}: cannot score them")
    return [skeleton.joint(n) for n in names]


def select_joints(results: list[dict], columns: list[int]) -> list[dict]:
    """COCO results entries -> the same with only `columns` of their keypoints, in that order
    (a COCO-18 model's poses scored on COCO-17 ground truth: the neck dropped)."""
    out = []
    for entry in results:
        kp = np.asarray(entry["keypoints"], dtype=np.float64).reshape(-1, 3)[columns]
        out.append({**entry, "keypoints": [round(float(v), 3) for v in kp.ravel()]})
    return out


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
