"""Image records + predictions -> keypoint AP (pycocotools), PCK, per-joint errors, box AP.

Keypoint AP is scored in AIC-14 on a chosen joint set: "limbs12" (shoulders to ankles, the
joints COCO-17 and AIC-14 share) or "all" (every joint the ground truth labels). Joints outside
the set, and joints the ground truth leaves unlabelled, count for nothing: COCOeval's OKS sums
over the ground truth's labelled joints only (v > 0), whatever is predicted elsewhere.
`coco17_ap` scores a COCO-skeleton model on COCO's own 17 joints (face points included, COCO's
sigmas) on the photos whose ground truth is COCO-17 (COCO, OCHuman).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from service.data.joint_maps import LIMBS12
from service.data.real import ImageRecord, to_coco, to_coco17
from service.evaluation.coco_eval import evaluate_keypoints
from service.evaluation.pck import NORMALISERS, JointErrors, joint_errors
from service.evaluation.real_eval import ImagePrediction
from service.skeleton import AIC14, COCO_SIGMAS_17, COCO_SIGMAS_ON_AIC14

if TYPE_CHECKING:
    from service.detector.evaluate import BoxAP

JOINT_SETS: dict[str, tuple[int, ...]] = {"limbs12": LIMBS12,
                                          "all": tuple(range(AIC14.num_joints))}
SIGMAS: dict[str, np.ndarray] = {"coco": np.asarray(COCO_SIGMAS_ON_AIC14),
                                 "aic": AIC14.sigmas_array}


def results(predictions: list[ImagePrediction]) -> list[dict]:
    """Predictions -> COCO results entries (image i has id i + 1, as in `to_coco`)."""
    out = []
    for i, pred in enumerate(predictions, start=1):
        for kp, score in zip(pred.keypoints, pred.scores, strict=True):
            out.append({"image_id": i, "category_id": 1,
                        "keypoints": [round(float(v), 3) for v in kp.ravel()],
                        "score": float(score)})
    return out


def keypoint_ap(records: list[ImageRecord], predictions: list[ImagePrediction],
                joints: str = "limbs12", sigmas: str = "coco",
                subset: str | None = None) -> dict[str, float]:
    """AP, AP50, AP75, ... over all records, or over those of one `subset`."""
    ids = [i for i, r in enumerate(records, start=1) if subset is None or r.subset == subset]
    gt = to_coco(records, JOINT_SETS[joints])
    return evaluate_keypoints(gt, results(predictions), SIGMAS[sigmas], ids)


def coco17_ap(records: list[ImageRecord], predictions: list[ImagePrediction]
              ) -> dict[str, float] | None:  # fmt: skip
    """AP, AP50, ... on COCO's 17 joints with COCO's sigmas over the records labelled in
    COCO-17; None when none is, or when the predictions are not in a COCO skeleton."""
    if any(p.coco17 is None for p in predictions):
        return None
    gt, ids = to_coco17(records)
    if not ids:
        return None
    wanted = set(ids)
    entries = [{"image_id": i, "category_id": 1, "score": float(score),
                "keypoints": [round(float(v), 3) for v in kp.ravel()]}
               for i, pred in enumerate(predictions, start=1) if i in wanted
               for kp, score in zip(pred.coco17, pred.scores, strict=True)]  # type: ignore[arg-type]
    return evaluate_keypoints(gt, entries, np.asarray(COCO_SIGMAS_17), ids)


def errors_of(records: list[ImageRecord], predictions: list[ImagePrediction],
              normaliser: str) -> JointErrors:
    """Every ground-truth person's joint distances to its assigned prediction."""
    parts = []
    for rec, pred in zip(records, predictions, strict=True):
        chosen = np.zeros_like(rec.keypoints)
        have = pred.assigned >= 0
        chosen[have] = pred.keypoints[pred.assigned[have]]
        size = NORMALISERS[normaliser](rec.keypoints, rec.boxes)
        parts.append(joint_errors(rec.keypoints, chosen, size))
    return JointErrors.concat(parts)


def served_box_ap(records: list[ImageRecord], predictions: list[ImagePrediction]) -> BoxAP:
    """Box AP of the boxes the pipeline used against the ground-truth person boxes (ignore
    regions: neither right nor wrong) -> service.detector.evaluate.BoxAP."""
    from service.detector.data import BoxRecord
    from service.detector.evaluate import box_ap

    boxes = [BoxRecord(r.path, r.width, r.height, r.boxes,
                       np.array([_xyxy(g["bbox"]) for g in r.ignore]).reshape(-1, 4))
             for r in records]  # fmt: skip
    dets = [{"image_id": i, "category_id": 1, "score": float(b[4]),
             "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]}
            for i, p in enumerate(predictions, start=1) for b in p.boxes]  # fmt: skip
    return box_ap(boxes, dets)


def _xyxy(bbox: list[float]) -> list[float]:
    x, y, w, h = bbox
    return [x, y, x + w, y + h]
