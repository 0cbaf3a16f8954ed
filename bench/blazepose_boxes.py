"""Person-box quality of the detectors on real multi-person photos: box AP / AP50 (pycocotools).

Run: .venv/bin/python bench/blazepose_boxes.py [--data ../shared/data/mmpose-testdata]
Compares, on the COCO, AI Challenger, CrowdPose and OCHuman test images of mmpose:
- detector-lite (its boxes and scores, as served);
- blazepose-detector (the body-region squares, clipped to the image);
- blazepose-detector + blazepose-topdown (the box around the 14 AIC joints found, +10%).
Ground truth: every non-crowd person annotation's bbox (crowd ones are COCOeval's iscrowd).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from service.runtime.factory import load_pipeline  # noqa: E402
from service.runtime.model_store import load_model  # noqa: E402
from service.runtime.padding import pad_batch  # noqa: E402
from service.runtime.protocol import PipelineConfig, PoseModel  # noqa: E402

SETS = {"coco": "coco/test_coco.json", "aic": "aic/test_aic.json",
        "crowdpose": "crowdpose/test_crowdpose.json", "ochuman": "ochuman/test_ochuman.json"}


def ground_truth(root: Path) -> tuple[dict[str, Any], list[tuple[int, Path]]]:
    """One COCO dict over all sets (image ids renumbered) and (image id, file) pairs."""
    images, anns, files = [], [], []
    for name, rel in SETS.items():
        data = json.loads((root / rel).read_text())
        for im in data["images"]:
            new_id = len(images) + 1
            images.append({"id": new_id, "width": im["width"], "height": im["height"]})
            files.append((new_id, root / name / im["file_name"]))
            for a in data["annotations"]:
                if a["image_id"] == im["id"]:
                    x, y, w, h = a["bbox"]
                    anns.append({"id": len(anns) + 1, "image_id": new_id, "category_id": 1,
                                 "bbox": [x, y, w, h], "area": w * h,
                                 "iscrowd": int(a.get("iscrowd", 0))})
    categories = [{"id": 1, "name": "person"}]
    return {"images": images, "annotations": anns, "categories": categories}, files


def clipped(box: list[float], width: int, height: int) -> list[float]:
    x1, y1 = min(max(box[0], 0), width), min(max(box[1], 0), height)
    x2, y2 = min(max(box[2], 0), width), min(max(box[3], 0), height)
    return [x1, y1, x2 - x1, y2 - y1]


def detector_boxes(name: str, image: np.ndarray) -> list[tuple[list[float], float]]:
    model = load_model(name)
    with torch.inference_mode():
        rows = model.module(pad_batch([image], torch.device("cpu"), torch.float32))[0].numpy()
    h, w = image.shape[:2]
    return [(clipped(r[:4].tolist(), w, h), float(r[4])) for r in rows if r[4] > 0]


def pose_boxes(pipeline: PoseModel, image: np.ndarray) -> list[tuple[list[float], float]]:
    h, w = image.shape[:2]
    out = []
    for pose in pipeline.predict(image).poses:
        xy = pose.keypoints[:, :2]
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        pad = (hi - lo) * 0.05
        out.append((clipped([*(lo - pad), *(hi + pad)], w, h), pose.score))
    return out


def evaluate(gt: dict[str, Any], dets: list[dict[str, Any]]) -> tuple[float, float]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        if not dets:
            return 0.0, 0.0
        ev = COCOeval(coco, coco.loadRes(dets), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0]), float(ev.stats[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "mmpose-testdata"
    parser.add_argument("--data", type=Path, default=default)
    args = parser.parse_args()
    torch.set_num_threads(1)
    gt, files = ground_truth(args.data)
    topdown = load_pipeline("blazepose-topdown", "blazepose-detector",
                                  config=PipelineConfig(detector_threshold=0.5))
    methods = {"detector-lite": lambda im: detector_boxes("detector-lite", im),
               "blazepose-detector": lambda im: detector_boxes("blazepose-detector", im),
               "blazepose-detector + landmarks": lambda im: pose_boxes(topdown, im)}
    people = sum(1 for a in gt["annotations"] if not a["iscrowd"])
    print(f"{len(files)} images, {people} people (mmpose test data: {', '.join(SETS)})")
    print(f"{'boxes':32s} {'AP':>6s} {'AP50':>6s} {'found':>6s}")
    for name, method in methods.items():
        dets = []
        for image_id, path in files:
            image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            dets += [{"image_id": image_id, "category_id": 1, "bbox": b, "score": s}
                     for b, s in method(image)]
        ap, ap50 = evaluate(gt, dets)
        print(f"{name:32s} {ap:6.3f} {ap50:6.3f} {len(dets):6d}")


if __name__ == "__main__":
    main()
