"""Scenes -> files: JPEG images plus one COCO keypoint file, and contact sheets.

The keypoint file is in AIC-14 order (the project's default skeleton) or in COCO's own 17
keypoints (`skeleton="coco17"`: the face points of `face.py`, the limbs by name), which the
readers turn into COCO-18 with a derived neck.

Every image is generated from `numpy.random.default_rng(seed + index)`, so any worker can make
any image and the data set is the same for any number of workers.

Small and hidden people: a person whose drawing falls wholly outside the image is not annotated;
every other person is, even when tiny or fully covered, with `num_keypoints` counting its labelled
joints (v > 0). A person with num_keypoints == 0 (all joints outside the image) becomes an ignore
region for the readers, as unannotated people in COCO do.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from service.data.synth.face import FACE_JOINTS
from service.data.synth.scene import Scene, SynthConfig, generate_scene
from service.skeleton import AIC14, COCO17_JOINTS

JPEG_QUALITY = 95
DEFAULT_CONFIG = SynthConfig()
COCO17 = COCO17_JOINTS
# COCO's person skeleton (1-based keypoint pairs), as in its annotation files.
COCO17_LINKS = (
    (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8), (7, 9),
    (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7),
)  # fmt: skip
SKELETONS = ("aic14", "coco17")  # what a file can be written in


def categories(skeleton: str = "aic14") -> list[dict[str, Any]]:
    if skeleton == "coco17":
        names, links = list(COCO17), [list(link) for link in COCO17_LINKS]
    else:
        names, links = list(AIC14.joints), [[a + 1, b + 1] for a, b in AIC14.limbs]
    return [{"id": 1, "name": "person", "supercategory": "person", "keypoints": names,
             "skeleton": links}]  # fmt: skip


def scene_keypoints(scene: Scene, skeleton: str = "aic14") -> np.ndarray:
    """(N, K, 3) the scene's keypoints in the file's order: AIC-14, or COCO-17 (face points
    from `scene.face`, the limb joints taken from AIC-14 by name)."""
    if skeleton != "coco17":
        return scene.keypoints
    both = np.concatenate([scene.keypoints, scene.face], axis=1)  # (N, 14 + 5, 3)
    names = AIC14.joints + FACE_JOINTS
    return both[:, [names.index(n) for n in COCO17]]


def annotations_of(
    scene: Scene, image_id: int, first_id: int, skeleton: str = "aic14"
) -> list[dict[str, Any]]:
    """COCO annotation dicts of one scene, ids from `first_id`, keypoints in `skeleton`."""
    out = []
    keypoints = scene_keypoints(scene, skeleton)
    for k, (kp, box) in enumerate(zip(keypoints, scene.boxes, strict=True)):
        x1, y1, x2, y2 = (float(v) for v in box)
        out.append({
            "id": first_id + k, "image_id": image_id, "category_id": 1, "iscrowd": 0,
            "keypoints": [round(float(v), 2) for v in kp.reshape(-1)],
            "num_keypoints": int((kp[:, 2] > 0).sum()),
            "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1),
        })  # fmt: skip
    return out


def _make_one(
    index: int, out: Path, seed: int, width: int, height: int, config: SynthConfig,
    skeleton: str = "aic14",
) -> tuple[int, list[dict[str, Any]]]:
    scene = generate_scene(np.random.default_rng(seed + index), width, height, config)
    name = f"{index:07d}.jpg"
    cv2.imwrite(str(out / "images" / name), scene.image[..., ::-1],
                [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return index, annotations_of(scene, index + 1, 0, skeleton)


def write_dataset(
    out: Path, count: int, seed: int, width: int, height: int,
    config: SynthConfig = DEFAULT_CONFIG, workers: int = 1, progress: bool = False,
    skeleton: str = "aic14",
) -> dict[str, Any]:
    """Write out/images/*.jpg and out/annotations.json (keypoints in `skeleton`: "aic14" or
    "coco17"); return the COCO dict."""
    if skeleton not in SKELETONS:
        raise ValueError(f"skeleton {skeleton!r}: one of {SKELETONS}")
    (out / "images").mkdir(parents=True, exist_ok=True)
    job = partial(_make_one, out=out, seed=seed, width=width, height=height, config=config,
                  skeleton=skeleton)
    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    for index, records in _run(job, count, workers, progress):
        images.append({"id": index + 1, "file_name": f"{index:07d}.jpg",
                       "width": width, "height": height})
        for rec in records:
            rec["id"] = len(anns) + 1
            anns.append(rec)
    info = {"description": "boxpose synthetic scenes", "seed": seed,
            "config": dataclasses.asdict(config)}
    coco = {"info": info,
            "images": images, "annotations": anns, "categories": categories(skeleton)}
    (out / "annotations.json").write_text(json.dumps(coco))
    return coco


def _run(job: partial, count: int, workers: int, progress: bool) -> Iterator[Any]:
    if workers <= 1:
        it: Iterator[Any] = map(job, range(count))
        yield from _progress(it, count, progress)
        return
    # forkserver: workers start from a clean process, never from a parent whose OpenCV or torch
    # thread pools could be caught mid-lock by fork (a deadlock).
    with multiprocessing.get_context("forkserver").Pool(workers, initializer=_init_worker) as pool:
        yield from _progress(pool.imap(job, range(count), chunksize=8), count, progress)


def _init_worker() -> None:
    cv2.setNumThreads(1)  # one process per core; OpenCV's own threads would oversubscribe


def _progress(it: Iterator[Any], total: int, enabled: bool) -> Iterator[Any]:
    if not enabled:
        return it
    from tqdm import tqdm

    return iter(tqdm(it, total=total, unit="img"))


LIMB_COLOURS = [(255, 255, 0)] + [(255, 80, 80)] * 3 + [(80, 160, 255)] * 3 + \
    [(255, 140, 0)] * 3 + [(0, 220, 255)] * 3  # fmt: skip


def draw_skeletons(image: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB + (N, 14, 3) -> a copy with limbs (right red/orange, left blue/cyan) and
    joints (filled = visible, ring = occluded), thinner on smaller people."""
    img = image.copy()
    for kp in keypoints:
        labelled = kp[kp[:, 2] > 0, :2]
        if len(labelled) == 0:
            continue
        size = float(np.ptp(labelled, axis=0).max())
        width, radius = (1, 1) if size < 60 else (1, 2) if size < 200 else (2, 3)
        for c, (a, b) in enumerate(AIC14.limbs):
            if kp[a, 2] > 0 and kp[b, 2] > 0:
                cv2.line(img, _px(kp[a]), _px(kp[b]), LIMB_COLOURS[c], width, cv2.LINE_AA)
        for joint in kp:
            if joint[2] > 0:
                fill = -1 if joint[2] == 2 else 1
                cv2.circle(img, _px(joint), radius, (255, 255, 255), fill, cv2.LINE_AA)
    return img


def _px(joint: np.ndarray) -> tuple[int, int]:
    return int(round(float(joint[0]))), int(round(float(joint[1])))


def contact_sheet(
    seed: int, count: int = 12, width: int = 384, height: int = 384, cols: int = 4,
    config: SynthConfig = DEFAULT_CONFIG,
) -> np.ndarray:
    """(rows * height, cols * width, 3) RGB grid of scenes with their skeletons drawn."""
    tiles = []
    for i in range(count):
        scene = generate_scene(np.random.default_rng(seed + i), width, height, config)
        tile = draw_skeletons(scene.image, scene.keypoints)
        cv2.rectangle(tile, (0, 0), (width - 1, height - 1), (255, 255, 255), 1)
        tiles.append(tile)
    while len(tiles) % cols:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.concatenate(tiles[r : r + cols], axis=1) for r in range(0, len(tiles), cols)]
    return np.concatenate(rows, axis=0)
