"""Real annotated people -> evaluation mosaics: photos of several real people whose person boxes
overlap by a chosen IoU (a row), or stand apart (a grid), with their keypoints as ground truth.

Each person is pasted with a little of its own photo around it: the pixels under a silhouette
drawn from its skeleton (limbs and torso grown by a margin, edges feathered), so that a person in
front hides only the body parts it covers, as in a real crowd; nothing is pasted outside the
person's box (the labelled joints' extent grown by 10% on each side). Joints of earlier people
under a later silhouette become hidden (v = 1: still labelled, as COCO and CrowdPose label
occluded joints). Placement is a scale and a shift per person; keypoints and boxes move with the
pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from service.skeleton import AIC14

LIMB_WIDTH = 0.09  # limb stroke, fraction of the person box height
MARGIN = 0.04  # silhouette grown by this fraction of the box height: a little context
TORSO = (0, 3, 9, 6)  # r_shoulder, l_shoulder, l_hip, r_hip
HEAD_TOP, NECK = 12, 13


@dataclass(frozen=True)
class SourcePerson:
    """One annotated person in its photo."""

    image: np.ndarray  # (h, w, 3) uint8 RGB
    keypoints: np.ndarray  # (14, 3) AIC-14 x, y, v in the photo's pixels
    box: np.ndarray  # (4,) x1, y1, x2, y2


@dataclass(frozen=True)
class Mosaic:
    image: np.ndarray  # (H, W, 3) uint8 RGB
    keypoints: np.ndarray  # (N, 14, 3) AIC-14, v 2 visible, 1 hidden by a later person
    boxes: np.ndarray  # (N, 4) x1, y1, x2, y2: each source box, moved


@dataclass(frozen=True)
class Placement:
    """Per person: canvas = scale * photo + shift."""

    scales: np.ndarray  # (N,)
    shifts: np.ndarray  # (N, 2)


def sizes(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) -> (N, 2) widths, heights."""
    return boxes[:, 2:] - boxes[:, :2]


def row_lefts(widths: np.ndarray, iou: float) -> np.ndarray:
    """(N,) widths of equal-height, top-aligned boxes -> (N,) left edges, first at 0, such that
    each box and the next have IoU `iou`: overlap o = iou (w1 + w2) / (1 + iou)."""
    overlap = iou * (widths[:-1] + widths[1:]) / (1 + iou)  # (N - 1,)
    return np.concatenate([[0.0], np.cumsum(widths[:-1] - overlap)])


def max_row_iou(widths: np.ndarray) -> float:
    """The largest neighbour IoU a row of these widths (equal heights) can have: o <= min w."""
    a, b = np.minimum(widths[:-1], widths[1:]), np.maximum(widths[:-1], widths[1:])
    return float((a / b).min()) if len(widths) > 1 else 1.0


def row_placement(boxes: np.ndarray, iou: float, size: tuple[int, int], height: float
                  ) -> Placement:  # fmt: skip
    """Source boxes (N, 4) -> every box `height` px tall, in a row centred on the (H, W)
    canvas, neighbours at IoU `iou`."""
    scales = height / sizes(boxes)[:, 1]
    widths = sizes(boxes)[:, 0] * scales
    lefts = row_lefts(widths, iou)
    span = lefts[-1] + widths[-1]
    x = lefts + (size[1] - span) / 2
    y = np.full(len(boxes), (size[0] - height) / 2)
    return Placement(scales, np.stack([x, y], 1) - scales[:, None] * boxes[:, :2])


def row_height(boxes: np.ndarray, size: tuple[int, int], fill: float = 0.75,
               max_scale: float = 2.5) -> float:  # fmt: skip
    """The common box height at which the widest row (IoU 0) fits the canvas with 3% to spare
    on each side, at most `fill` of its height and `max_scale` x the smallest source person."""
    w, h = sizes(boxes).T
    fit = 0.94 * size[1] / float((w / h).sum())
    return float(min(fill * size[0], fit, max_scale * h.min()))


def grid_placement(boxes: np.ndarray, size: tuple[int, int], fill: float = 0.9) -> Placement:
    """Source boxes (N, 4) -> each scaled to fit its own cell of a grid on the (H, W) canvas
    (the row count that gives the largest median scale), centred in it: no box overlaps."""
    n, (w, h) = len(boxes), sizes(boxes).T
    rows = np.arange(1, n + 1)
    cols = np.ceil(n / rows)
    cell_w, cell_h = size[1] / cols, size[0] / rows  # (R,)
    fits = np.minimum(cell_w[:, None] / w, cell_h[:, None] / h)  # (R, N)
    r = int(np.argmax(np.median(fits, axis=1)))
    c = int(cols[r])
    scales = fill * fits[r]
    index = np.arange(n)
    centres = np.stack([(index % c + 0.5) * cell_w[r], (index // c + 0.5) * cell_h[r]], 1)
    box_centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    return Placement(scales, centres - scales[:, None] * box_centres)


def silhouette(keypoints: np.ndarray, box_height: float, size: tuple[int, int]) -> np.ndarray:
    """(14, 3) canvas keypoints -> (H, W) float32 paste weight: limbs, torso and head drawn
    `LIMB_WIDTH + 2 MARGIN` of the box height wide, edges feathered."""
    mask = np.zeros(size, np.uint8)
    width = max(2, int(round((LIMB_WIDTH + 2 * MARGIN) * box_height)))
    xy, seen = np.round(keypoints[:, :2]).astype(np.int32), keypoints[:, 2] > 0
    for a, b in AIC14.limbs:
        if seen[a] and seen[b]:
            cv2.line(mask, tuple(map(int, xy[a])), tuple(map(int, xy[b])), 1, width)
    if seen[list(TORSO)].all():
        cv2.fillConvexPoly(mask, xy[list(TORSO)], 1)
    if seen[HEAD_TOP] and seen[NECK]:
        centre = (xy[HEAD_TOP] + xy[NECK]) // 2
        radius = int(0.6 * np.linalg.norm(xy[HEAD_TOP] - xy[NECK]) + width / 2)
        cv2.circle(mask, tuple(map(int, centre)), radius, 1, -1)
    sigma = max(1.0, MARGIN * box_height / 2)
    return cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigmaX=sigma)


def box_mask(box: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(4,) x1, y1, x2, y2 -> (H, W) float32, 1 inside the box: a person's pixels stay in its
    box, so boxes at IoU 0 share none."""
    mask = np.zeros(size, np.float32)
    x1, y1 = np.clip(np.floor(box[:2]), 0, None).astype(int)
    x2, y2 = np.ceil(box[2:]).astype(int)
    mask[y1:y2, x1:x2] = 1.0
    return mask


def hide_covered(keypoints: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """(N, 14, 3) keypoints, (H, W) bool -> visible joints (v = 2) under `covered` set to 1."""
    h, w = covered.shape
    col = np.clip(np.round(keypoints[..., 0]).astype(int), 0, w - 1)
    row = np.clip(np.round(keypoints[..., 1]).astype(int), 0, h - 1)
    hit = covered[row, col] & (keypoints[..., 2] == 2)
    out = keypoints.copy()
    out[..., 2] = np.where(hit, 1.0, out[..., 2])
    return out


def compose(people: list[SourcePerson], placement: Placement, background: np.ndarray,
            order: np.ndarray | None = None) -> Mosaic:  # fmt: skip
    """Paste `people` onto (a copy of) the (H, W, 3) background, in `order` (default: as
    given; later ones in front). The result keeps the people in their given order."""
    canvas = background.astype(np.float32)
    size = canvas.shape[:2]
    n = len(people)
    kp = np.stack([p.keypoints for p in people]).astype(np.float64)  # (N, 14, 3)
    kp[..., :2] = kp[..., :2] * placement.scales[:, None, None] + placement.shifts[:, None]
    boxes = np.stack([p.box for p in people]).astype(np.float64) * np.repeat(
        placement.scales[:, None], 4, 1
    ) + np.tile(placement.shifts, 2)  # (N, 4)
    pasted: list[int] = []
    for i in np.arange(n) if order is None else order:
        person, s, (tx, ty) = people[i], placement.scales[i], placement.shifts[i]
        matrix = np.array([[s, 0.0, tx], [0.0, s, ty]])
        layer = cv2.warpAffine(person.image, matrix, size[::-1], flags=cv2.INTER_LINEAR)
        inside = cv2.warpAffine(np.ones(person.image.shape[:2], np.float32), matrix, size[::-1])
        alpha = (
            silhouette(kp[i], boxes[i, 3] - boxes[i, 1], size) * inside * box_mask(boxes[i], size)
        )  # (H, W)
        canvas = canvas * (1 - alpha[..., None]) + layer * alpha[..., None]
        if pasted:
            kp[pasted] = hide_covered(kp[pasted], alpha > 0.5)
        pasted.append(int(i))
    image = np.clip(np.round(canvas), 0, 255).astype(np.uint8)
    return Mosaic(image, kp, boxes)


def blurred_background(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A photo resized to (H, W) and blurred past recognition: texture without people."""
    resized = cv2.resize(image, size[::-1], interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(resized, (0, 0), sigmaX=math.hypot(*size) / 60)
