"""Image + poses -> the same image with person boxes and skeletons drawn (OpenCV)."""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

from service.skeleton import Skeleton
from service.types import Box, Pose

# Box colour per source (RGB): where a box came from is visible at a glance.
BOX_COLOURS: dict[str, tuple[int, int, int]] = {
    "detector": (255, 200, 0),
    "box_head": (255, 140, 0),
    "client": (0, 200, 255),
    "greedy": (200, 0, 255),
}


def limb_colours(num_limbs: int) -> list[tuple[int, int, int]]:
    """One distinct RGB colour per limb, evenly spaced in hue."""
    colours = []
    for c in range(num_limbs):
        r, g, b = colorsys.hsv_to_rgb(c / max(num_limbs, 1), 0.9, 1.0)
        colours.append((int(r * 255), int(g * 255), int(b * 255)))
    return colours


def render(image_rgb: np.ndarray, poses: list[Pose], skeleton: Skeleton) -> np.ndarray:
    """(H, W, 3) uint8 RGB + poses -> a new (H, W, 3) uint8 RGB image with the overlay."""
    canvas = np.ascontiguousarray(image_rgb.copy())
    thickness = max(1, round(max(canvas.shape[:2]) / 400))
    colours = limb_colours(skeleton.num_limbs)
    for pose in poses:
        if pose.box is not None:
            _draw_box(canvas, pose.box, pose.score, thickness)
        _draw_skeleton(canvas, pose.keypoints, skeleton, colours, thickness)
    return canvas


def _draw_box(canvas: np.ndarray, box: Box, score: float, thickness: int) -> None:
    colour = BOX_COLOURS.get(box.source, (255, 255, 255))
    p1 = (round(box.x1), round(box.y1))
    cv2.rectangle(canvas, p1, (round(box.x2), round(box.y2)), colour, thickness, cv2.LINE_AA)
    label = f"{box.source} {score:.2f}"
    cv2.putText(
        canvas, label, (p1[0] + 2, max(p1[1] - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX,
        0.4 * thickness, colour, max(1, thickness // 2), cv2.LINE_AA,
    )  # fmt: skip


def _draw_skeleton(
    canvas: np.ndarray,
    keypoints: np.ndarray,  # (J, 3)
    skeleton: Skeleton,
    colours: list[tuple[int, int, int]],
    thickness: int,
) -> None:
    found = keypoints[:, 2] > 0
    points = [(round(float(x)), round(float(y))) for x, y in keypoints[:, :2]]
    for c, (a, b) in enumerate(skeleton.limbs):
        if found[a] and found[b]:
            cv2.line(canvas, points[a], points[b], colours[c], thickness + 1, cv2.LINE_AA)
    for j in np.flatnonzero(found):
        cv2.circle(canvas, points[j], thickness + 2, (255, 255, 255), -1, cv2.LINE_AA)
        cv2.circle(canvas, points[j], thickness + 1, (20, 20, 20), 1, cv2.LINE_AA)
