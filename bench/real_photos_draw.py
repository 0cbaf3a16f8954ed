"""Pictures of bench/real_photos.py: a contact sheet of predictions on the dev photos (written
only under runs/, never committed: the photos' terms forbid it) and the docs' example picture,
drawn on a photo that ships inside matplotlib (Grace Hopper, `matplotlib.cbook`)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from service.data.real import ImageRecord
from service.data.sample import read_rgb
from service.evaluation.real_eval import ImagePrediction, poses_to_aic14
from service.runtime.protocol import PoseModel
from service.runtime.render import render
from service.skeleton import AIC14
from service.types import Pose

TILE = 300  # tile height in pixels


def draw(image: np.ndarray, prediction: ImagePrediction, truth: np.ndarray | None = None
         ) -> np.ndarray:
    """(H, W, 3) RGB + AIC-14 predictions (+ (N, 4) true boxes, white) -> a new image."""
    poses = [Pose(kp, float(s)) for kp, s in zip(prediction.keypoints, prediction.scores,
                                                  strict=True)]
    canvas = render(image, poses, AIC14)
    thickness = max(1, round(max(image.shape[:2]) / 400))
    for x1, y1, x2, y2, *_ in prediction.boxes:
        cv2.rectangle(canvas, (round(x1), round(y1)), (round(x2), round(y2)), (255, 200, 0),
                      thickness, cv2.LINE_AA)
    for x1, y1, x2, y2 in [] if truth is None else truth:
        cv2.rectangle(canvas, (round(x1), round(y1)), (round(x2), round(y2)), (255, 255, 255),
                      max(1, thickness // 2), cv2.LINE_AA)
    return canvas


def _tile(image: np.ndarray, label: str, height: int = TILE) -> np.ndarray:
    scale = height / image.shape[0]
    tile = cv2.resize(image, (max(1, round(image.shape[1] * scale)), height),
                      interpolation=cv2.INTER_AREA)
    cv2.putText(tile, label, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 2)
    cv2.putText(tile, label, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    return tile


def contact_sheet(records: list[ImageRecord], predictions: list[ImagePrediction],
                  path: Path, width: int = 1800) -> None:
    """Every record's photo with its predictions (and true boxes), in rows of `width` px."""
    tiles = [_tile(draw(read_rgb(str(r.path)), p, r.boxes), f"{r.subset} {r.path.name}")
             for r, p in zip(records, predictions, strict=True)]
    rows: list[list[np.ndarray]] = []
    row: list[np.ndarray] = []
    used = 0
    for tile in tiles:
        if row and used + tile.shape[1] > width:
            rows.append(row)
            row, used = [], 0
        row.append(tile)
        used += tile.shape[1]
    rows.append(row)
    sheet = np.full((TILE * len(rows), width, 3), 255, np.uint8)
    for r, tiles_in_row in enumerate(rows):
        x = 0
        for tile in tiles_in_row:
            w = min(tile.shape[1], width - x)
            sheet[r * TILE:(r + 1) * TILE, x:x + w] = tile[:, :w]
            x += w
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), sheet[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])


def sample_photo() -> np.ndarray:
    """matplotlib's Grace Hopper sample photo, (600, 512, 3) uint8 RGB."""
    import matplotlib.cbook

    return read_rgb(str(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))


def example_picture(pipelines: dict[str, PoseModel], path: Path) -> None:
    """Each pipeline's served answer on the sample photo, side by side, labelled."""
    image = sample_photo()
    panels = []
    for name, pipeline in pipelines.items():
        poses = pipeline.predict(image).poses
        kp = poses_to_aic14(poses, pipeline.skeleton)
        boxes = np.array([[*p.box.as_list(), p.score] for p in poses if p.box is not None])
        pred = ImagePrediction(kp, np.array([p.score for p in poses]), np.zeros(0, int),
                               boxes.reshape(-1, 5), 0.0)
        panels.append(_tile(draw(image, pred), name, 400))
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.concatenate(panels, axis=1)[..., ::-1],
                [cv2.IMWRITE_JPEG_QUALITY, 85])
