"""A pipeline + real image records + a box mode -> every figure of the real-photo evaluation,
and its text: keypoint AP (12 limb joints with COCO's sigmas; all labelled joints with AI
Challenger's), per subset, PCK@threshold, the per-joint error table, the served boxes' AP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from service.data.joint_maps import HEAD_TOP, NECK
from service.data.real import ImageRecord
from service.evaluation.pck import NORMALISER_TEXT, JointRow, pck, per_joint
from service.evaluation.real_eval import ImagePrediction, predict_records
from service.evaluation.real_metrics import (
    SIGMAS,
    coco17_ap,
    errors_of,
    keypoint_ap,
    served_box_ap,
)

if TYPE_CHECKING:
    from service.detector.evaluate import BoxAP
    from service.runtime.protocol import PoseModel


@dataclass(frozen=True)
class ModeReport:
    mode: str  # "true" or "served" boxes
    images: int
    people: int
    seconds_per_image: float
    ap: dict[str, float]  # 12 limb joints, COCO sigmas
    ap_all: dict[str, float] | None  # all labelled joints, AIC sigmas (when heads are labelled)
    ap_by_subset: dict[str, dict[str, float]]
    # COCO's 17 joints, COCO sigmas, on the COCO-17-labelled photos (COCO-skeleton models only)
    ap_coco17: dict[str, float] | None
    coco17_images: int  # photos whose ground truth is COCO-17
    normaliser: str
    threshold: float
    pck: float
    people_scored: int
    joints: list[JointRow]
    box: BoxAP | None  # served boxes against the ground-truth person boxes


def evaluate(pipeline: PoseModel, records: list[ImageRecord], mode: str, normaliser: str,
             threshold: float = 0.2, progress: bool = False) -> ModeReport:
    """Run the pipeline on every record with `mode` boxes and score it."""
    predictions = predict_records(pipeline, records, mode, SIGMAS["coco"], progress)
    return score(records, predictions, mode, normaliser, threshold)


def score(records: list[ImageRecord], predictions: list[ImagePrediction], mode: str,
          normaliser: str, threshold: float = 0.2) -> ModeReport:
    """Predictions of one box mode -> the report."""
    heads = any((r.keypoints[:, [HEAD_TOP, NECK], 2] > 0).any() for r in records)
    subsets = sorted({r.subset for r in records})
    errors = errors_of(records, predictions, normaliser)
    return ModeReport(
        mode=mode, images=len(records), people=sum(r.num_people for r in records),
        seconds_per_image=float(np.mean([p.seconds for p in predictions] or [0.0])),
        ap=keypoint_ap(records, predictions, "limbs12", "coco"),
        ap_all=keypoint_ap(records, predictions, "all", "aic") if heads else None,
        ap_by_subset={s: keypoint_ap(records, predictions, "limbs12", "coco", s)
                      for s in subsets} if len(subsets) > 1 else {},
        ap_coco17=coco17_ap(records, predictions),
        coco17_images=sum(r.coco17 is not None for r in records),
        normaliser=normaliser, threshold=threshold, pck=pck(errors, threshold),
        people_scored=int(np.isfinite(errors.size).sum()), joints=per_joint(errors, threshold),
        box=served_box_ap(records, predictions) if mode == "served" else None,
    )  # fmt: skip


def _ap_line(stats: dict[str, float]) -> str:
    return "  ".join(f"{k} {stats[k]:.3f}" for k in ("AP", "AP50", "AP75"))


def report_lines(report: ModeReport) -> list[str]:
    """The report as printable lines."""
    lines = [f"boxes {report.mode}: {report.images} images, {report.people} people, "
             f"{report.seconds_per_image:.3f} s per image",
             f"  keypoint AP, 12 limb joints, COCO sigmas:      {_ap_line(report.ap)}"]
    if report.ap_all is not None:
        lines.append(f"  keypoint AP, all labelled joints, AIC sigmas: {_ap_line(report.ap_all)}")
    lines += [f"    {name:<12} {_ap_line(stats)}" for name, stats in report.ap_by_subset.items()]
    if report.ap_coco17 is not None:
        lines.append(f"  keypoint AP, COCO's 17 joints, COCO sigmas ({report.coco17_images} "
                     f"COCO-17 photos): {_ap_line(report.ap_coco17)}")
    lines.append(f"  PCK@{report.threshold:g} {NORMALISER_TEXT[report.normaliser]}: "
                 f"{report.pck:.3f} ({report.people_scored} of {report.people} people)")
    if report.box is not None:
        lines.append(f"  box AP of the served boxes: AP {report.box.ap:.3f}  AP50 "
                     f"{report.box.ap50:.3f}  ({report.box.detections} boxes)")
    return lines + ["", *joint_table(report.joints, report.threshold)]


def joint_table(rows: list[JointRow], threshold: float = 0.2) -> list[str]:
    """The per-joint table as markdown lines."""
    lines = [f"| joint | labelled | PCK@{threshold:g} | median error px | median error / size |",
             "|---|---|---|---|---|"]
    for row in rows:
        if row.count == 0:
            lines.append(f"| {row.joint} | 0 | - | - | - |")
            continue
        lines.append(f"| {row.joint} | {row.count} | {row.pck:.3f} | {_num(row.median_px)} | "
                     f"{_num(row.median_relative, 2)} |")
    return lines


def _num(value: float, digits: int = 1) -> str:
    return "not found" if not np.isfinite(value) else f"{value:.{digits}f}"
