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


# One colour per track id (RGB), the upload page's palette: an id keeps its colour everywhere.
TRACK_COLOURS: tuple[tuple[int, int, int], ...] = (
    (230, 25, 75), (60, 180, 75), (67, 99, 216), (245, 130, 49), (145, 30, 180),
    (66, 212, 244), (240, 50, 230), (154, 99, 36), (128, 0, 0), (70, 153, 144),
)  # fmt: skip


def track_colour(track_id: int) -> tuple[int, int, int]:
    return TRACK_COLOURS[(track_id - 1) % len(TRACK_COLOURS)]


def render_tracks(image_rgb: np.ndarray, tracks: list[tuple[int, Pose]], skeleton: Skeleton,
                  scale: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:  # fmt: skip
    """(H, W, 3) uint8 RGB + (track id, pose) pairs -> a new image with each person's skeleton,
    box and `#id` in the id's colour. Poses are in pixels of an image `1 / scale` times this one
    (a video's own pixels, drawn on its working-size frame): (sx, sy) = this image per theirs."""
    canvas = np.ascontiguousarray(image_rgb.copy())
    thickness = max(2, round(max(canvas.shape[:2]) / 200))
    sx, sy = scale
    for track_id, pose in tracks:
        colour = track_colour(track_id)
        keypoints = pose.keypoints.copy()  # (J, 3)
        keypoints[:, 0] = (keypoints[:, 0] + 0.5) * sx - 0.5
        keypoints[:, 1] = (keypoints[:, 1] + 0.5) * sy - 0.5
        _draw_skeleton(canvas, keypoints, skeleton, [colour] * skeleton.num_limbs, thickness)
        if pose.box is not None:
            b = pose.box
            p1 = (round((b.x1 + 0.5) * sx - 0.5), round((b.y1 + 0.5) * sy - 0.5))
            p2 = (round((b.x2 + 0.5) * sx - 0.5), round((b.y2 + 0.5) * sy - 0.5))
            cv2.rectangle(canvas, p1, p2, colour, max(1, thickness // 2), cv2.LINE_AA)
            _label(canvas, f"#{track_id}", p1, colour, thickness)
    return canvas


def _label(canvas: np.ndarray, text: str, corner: tuple[int, int], colour: tuple[int, int, int],
           thickness: int) -> None:  # fmt: skip
    """White text on a filled tag of `colour`, just above `corner` (inside the image)."""
    font, size = cv2.FONT_HERSHEY_SIMPLEX, 0.25 * thickness
    (w, h), base = cv2.getTextSize(text, font, size, max(1, thickness // 2))
    x, y = corner[0], max(corner[1], h + base + 2)
    cv2.rectangle(canvas, (x, y - h - base - 2), (x + w + 4, y), colour, -1)
    cv2.putText(canvas, text, (x + 2, y - base), font, size, (255, 255, 255),
                max(1, thickness // 2), cv2.LINE_AA)  # fmt: skip
