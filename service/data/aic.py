"""AI Challenger keypoint annotations -> `Sample`s in AIC-14 order (converted on the fly).

The file is a JSON list of {"image_id": name, "keypoint_annotations": {"human1": [x, y, v] * 14},
"human_annotations": {"human1": [x1, y1, x2, y2]}}; images are `<image_dir>/<image_id>.jpg`.
AIC's flags are 1 visible, 2 occluded, 3 not labelled; COCO's (the project's) are 2, 1, 0.
A person with no labelled joint becomes an ignore region (its box), as in the COCO reader.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from service.data.sample import Sample, boxes_mask, read_rgb
from service.skeleton import AIC14

AIC_TO_COCO_VISIBILITY = {1: 2, 2: 1, 3: 0}


def convert_keypoints(values: list[float]) -> np.ndarray:
    """AIC [x, y, v] * 14 -> (14, 3) with COCO flags; unlabelled joints get x = y = 0."""
    kp = np.asarray(values, np.float64).reshape(AIC14.num_joints, 3)
    flags = np.array([AIC_TO_COCO_VISIBILITY.get(int(v), 0) for v in kp[:, 2]], np.float64)
    kp[:, 2] = flags
    kp[flags == 0, :2] = 0.0
    return kp


def convert_entry(entry: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's record -> (N, 14, 3) keypoints, (N, 4) boxes of labelled people, (K, 4) boxes
    of people without any labelled joint."""
    keypoints, boxes, empty = [], [], []
    humans = entry.get("keypoint_annotations", {})
    for name, values in sorted(humans.items()):
        kp = convert_keypoints(values)
        box = [float(v) for v in entry.get("human_annotations", {}).get(name, [0, 0, 0, 0])]
        if (kp[:, 2] > 0).any():
            keypoints.append(kp)
            boxes.append(box)
        else:
            empty.append(box)
    return (np.array(keypoints).reshape(-1, AIC14.num_joints, 3),
            np.array(boxes, np.float64).reshape(-1, 4), np.array(empty, np.float64).reshape(-1, 4))


class AicKeypoints:
    """An AI Challenger annotation file + its image directory as an indexable `Source`."""

    skeleton = AIC14

    def __init__(self, annotation_file: Path, image_dir: Path) -> None:
        self.entries: list[dict[str, Any]] = json.loads(Path(annotation_file).read_text())
        self.image_dir = Path(image_dir)

    def __len__(self) -> int:
        return len(self.entries)

    def load(self, index: int) -> Sample:
        entry = self.entries[index]
        image = read_rgb(str(self.image_dir / f"{entry['image_id']}.jpg"))
        keypoints, boxes, empty = convert_entry(entry)
        ignore = boxes_mask(empty, *image.shape[:2]) if len(empty) else None
        return Sample(image, keypoints, boxes, ignore)


def aic_to_coco(entries: list[dict[str, Any]], sizes: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """AIC records + {image_id: (height, width)} -> a COCO keypoint dict (AIC-14 order), e.g. for
    pycocotools evaluation. People without labelled joints are written with num_keypoints 0."""
    from service.data.synth.writer import categories

    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    for i, entry in enumerate(entries):
        h, w = sizes[entry["image_id"]]
        images.append({"id": i + 1, "file_name": f"{entry['image_id']}.jpg", "width": w,
                       "height": h})
        for name, values in sorted(entry.get("keypoint_annotations", {}).items()):
            kp = convert_keypoints(values)
            x1, y1, x2, y2 = (float(v) for v in entry["human_annotations"][name])
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": 1, "iscrowd": 0,
                         "keypoints": kp.reshape(-1).tolist(),
                         "num_keypoints": int((kp[:, 2] > 0).sum()),
                         "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1)})
    return {"images": images, "annotations": anns, "categories": categories()}
