"""A served pipeline + image records -> predictions in AIC-14, with true or its own boxes.

"true": the ground-truth boxes of the annotated people are sent as client boxes and each answer
is tied back to its box (largest IoU); "served": the pipeline finds people itself (its detector,
its box head or its fallback), answers are tied to the ground truth by OKS for PCK, and its boxes
are kept for box AP. Predictions of any skeleton are read by joint name into AIC-14 (a joint the
model lacks is reported as not found), and into COCO-17 as well when the model has COCO's 17
joints (a COCO skeleton), for scoring on COCO ground truth's face points too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from service.data.real import ImageRecord
from service.skeleton import AIC14, COCO17_JOINTS, Skeleton
from service.types import Box, BoxSource, Pose

if TYPE_CHECKING:
    from service.runtime.protocol import PoseModel

BOX_MODES = ("true", "served")


@dataclass(frozen=True)
class ImagePrediction:
    keypoints: np.ndarray  # (D, 14, 3) AIC-14 x, y, joint score (0 = not found)
    scores: np.ndarray  # (D,) pose scores
    assigned: np.ndarray  # (N,) prediction index per ground-truth person, -1 = none
    boxes: np.ndarray  # (B, 5) x1, y1, x2, y2, score of the boxes the pipeline used
    seconds: float
    coco17: np.ndarray | None = None  # (D, 17, 3) the same poses in COCO-17 (COCO skeletons)


def aic14_columns(skeleton: Skeleton) -> np.ndarray:
    """(14,) index of each AIC-14 joint in `skeleton` (by name), -1 where it has none."""
    return np.array([skeleton.joints.index(j) if j in skeleton.joints else -1
                     for j in AIC14.joints])  # fmt: skip


def poses_to_aic14(poses: list[Pose], skeleton: Skeleton) -> np.ndarray:
    """Poses in `skeleton` -> (D, 14, 3) AIC-14 x, y, score."""
    cols = aic14_columns(skeleton)
    out = np.zeros((len(poses), AIC14.num_joints, 3))
    for d, pose in enumerate(poses):
        out[d, cols >= 0] = pose.keypoints[cols[cols >= 0]]
    return out


def poses_to_coco17(poses: list[Pose], skeleton: Skeleton) -> np.ndarray | None:
    """Poses in `skeleton` -> (D, 17, 3) COCO-17 x, y, score; None unless the skeleton has
    every COCO-17 joint."""
    if not set(COCO17_JOINTS) <= set(skeleton.joints):
        return None
    cols = [skeleton.joint(name) for name in COCO17_JOINTS]
    return np.array([pose.keypoints[cols] for pose in poses]).reshape(-1, 17, 3)


def client_boxes(record: ImageRecord) -> list[Box]:
    """The record's person boxes, clipped to the image, as client boxes."""
    b = record.boxes.copy()
    b[:, [0, 2]] = np.clip(b[:, [0, 2]], 0, record.width - 1)
    b[:, [1, 3]] = np.clip(b[:, [1, 3]], 0, record.height - 1)
    return [Box(float(x1), float(y1), float(x2), float(y2), 1.0, BoxSource.CLIENT)
            for x1, y1, x2, y2 in b]


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(A, 4), (B, 4) xyxy -> (A, B) IoU."""
    a, b = np.asarray(a, float).reshape(-1, 4), np.asarray(b, float).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=-1)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None] - inter, 1e-9)


def greedy_assign(similarity: np.ndarray, minimum: float) -> np.ndarray:
    """(N, D) similarity -> (N,) column per row, one-to-one, best pairs first; -1 below
    `minimum` or when the columns run out."""
    out = np.full(similarity.shape[0], -1)
    if similarity.size == 0:
        return out
    order = np.dstack(np.unravel_index(np.argsort(-similarity, axis=None), similarity.shape))[0]
    used: set[int] = set()
    for row, col in order:
        if similarity[row, col] < minimum:
            break
        if out[row] < 0 and col not in used:
            out[row] = col
            used.add(int(col))
    return out


def oks_matrix(gt: np.ndarray, areas: np.ndarray, pred: np.ndarray,
               sigmas: np.ndarray) -> np.ndarray:
    """gt (N, 14, 3), areas (N,), pred (D, 14, 3) -> (N, D) OKS over the labelled joints
    (COCO's formula; predicted joints that were not found count as misses)."""
    labelled = gt[:, None, :, 2] > 0  # (N, 1, 14)
    d2 = ((gt[:, None, :, :2] - pred[None, :, :, :2]) ** 2).sum(-1)  # (N, D, 14)
    var = (2 * np.asarray(sigmas)) ** 2
    e = np.exp(-d2 / var / (2 * (areas[:, None, None] + np.spacing(1))))
    e = np.where(pred[None, :, :, 2] > 0, e, 0.0)
    return (e * labelled).sum(-1) / np.maximum(labelled.sum(-1), 1)


def predict_record(pipeline: PoseModel, image: np.ndarray, record: ImageRecord, mode: str,
                   sigmas: np.ndarray) -> ImagePrediction:
    """One image -> its predictions and their assignment to the ground-truth people."""
    from service.runtime.protocol import ImageInput

    start = time.perf_counter()
    given = client_boxes(record) if mode == "true" else None
    poses = pipeline.predict(image, given).poses
    seconds = time.perf_counter() - start
    kp = poses_to_aic14(poses, pipeline.skeleton)
    scores = np.array([p.score for p in poses], np.float64)
    if mode == "true":
        pose_boxes = np.array([p.box.as_list() if p.box else [0, 0, 0, 0] for p in poses])
        given_xyxy = np.array([b.as_list() for b in given or []])
        assigned = greedy_assign(iou(given_xyxy, pose_boxes), 0.5)
        used: list[Box] = []
    else:
        assigned = greedy_assign(oks_matrix(record.keypoints, record.areas, kp, sigmas), 1e-6)
        found = pipeline.detect_missing([ImageInput(image, None, pipeline.config.scales)])[0]
        used = found if found is not None else [p.box for p in poses if p.box is not None]
    boxes = np.array([[*b.as_list(), b.score] for b in used]).reshape(-1, 5)
    return ImagePrediction(kp, scores, assigned, boxes, seconds,
                           poses_to_coco17(poses, pipeline.skeleton))


def predict_records(pipeline: PoseModel, records: list[ImageRecord], mode: str,
                    sigmas: np.ndarray, progress: bool = False) -> list[ImagePrediction]:
    """Every record through the pipeline (images decoded one at a time)."""
    from service.data.sample import read_rgb

    if mode not in BOX_MODES:
        raise ValueError(f"mode must be one of {BOX_MODES}, not {mode!r}")
    out = []
    for i, record in enumerate(records):
        out.append(predict_record(pipeline, read_rgb(str(record.path)), record, mode, sigmas))
        if progress and (i + 1) % 100 == 0:
            print(f"  {i + 1}/{len(records)} images", flush=True)
    return out
