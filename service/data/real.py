"""Annotated real photos -> `ImageRecord`s (paths and people, no pixels) -> `Sample`s or a COCO
ground-truth dict for pycocotools.

Every reader of real data (`lsp`, `mmpose_sets`) produces records in AIC-14 order. A person box
is the annotation's bbox where the file gives one, else the labelled joints' extent grown by
`BOX_MARGIN` of its width and height (half on each side) and clipped to the image. The OKS scale
(`area`) is the annotation's area (COCO: the segmentation's) where given, else
`AREA_PER_BOX_AREA` x the box area, the rule xtcocotools (mmpose's COCO evaluation) applies to
sets without segmentations such as CrowdPose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from service.data.sample import Sample, read_rgb
from service.skeleton import AIC14
from service.types import Box

BOX_MARGIN = 0.2  # joints' extent -> person box: grown by 10% of its size on each side
AREA_PER_BOX_AREA = 0.53


@dataclass(frozen=True)
class ImageRecord:
    """One annotated photo. Ignore regions are COCO-style dicts: "bbox" (x, y, w, h) and an
    optional "segmentation" (polygons or RLE): crowds, people without labelled joints."""

    path: Path
    width: int
    height: int
    keypoints: np.ndarray  # (N, 14, 3) AIC-14, v 0 unlabelled, 1 hidden, 2 visible
    boxes: np.ndarray  # (N, 4) x1, y1, x2, y2
    areas: np.ndarray  # (N,) OKS scale s^2 in pixels^2
    ignore: tuple[dict[str, Any], ...] = ()
    subset: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # source ids, for messages
    # (N, 17, 3) the same people in COCO-17 order (face points included), where the source
    # labels COCO's 17 joints (COCO, OCHuman); None elsewhere
    coco17: np.ndarray | None = None

    @property
    def num_people(self) -> int:
        return int(self.keypoints.shape[0])


def joints_box(keypoints: np.ndarray, margin: float = BOX_MARGIN,
               size: tuple[int, int] | None = None) -> np.ndarray:
    """(J, 3) -> (4,) x1, y1, x2, y2 around the labelled joints, grown by `margin` of the
    extent (half on each side), clipped to the (H, W) image when `size` is given."""
    xy = keypoints[keypoints[:, 2] > 0, :2]
    if len(xy) == 0:
        raise ValueError("no labelled joint to draw a box around")
    (x1, y1), (x2, y2) = xy.min(axis=0), xy.max(axis=0)
    box = Box(float(x1), float(y1), float(max(x2, x1 + 1)), float(max(y2, y1 + 1)))
    out = np.array(box.extended(margin).as_list())
    if size is not None:
        out[[0, 2]] = np.clip(out[[0, 2]], 0, size[1] - 1)
        out[[1, 3]] = np.clip(out[[1, 3]], 0, size[0] - 1)
    return out


def xywh_to_xyxy(bbox: list[float]) -> list[float]:
    x, y, w, h = (float(v) for v in bbox)
    return [x, y, x + w, y + h]


def ignore_mask(record: ImageRecord) -> np.ndarray | None:
    """The record's ignore regions as an (H, W) bool mask, None when it has none."""
    if not record.ignore:
        return None
    from service.data.coco import segmentation_mask

    mask = np.zeros((record.height, record.width), bool)
    for region in record.ignore:
        mask |= segmentation_mask(region, record.height, record.width)
    return mask


class RecordSource:
    """Image records as an indexable `Source` (AIC-14): decodes the image on `load`."""

    skeleton = AIC14

    def __init__(self, records: list[ImageRecord]) -> None:
        self.records = records

    def __len__(self) -> int:
        return len(self.records)

    def load(self, index: int) -> Sample:
        record = self.records[index]
        image = read_rgb(str(record.path))
        return Sample(image, record.keypoints.copy(), record.boxes.copy(), ignore_mask(record))


def to_coco17(records: list[ImageRecord]) -> tuple[dict[str, Any], list[int]]:
    """Records -> (a COCO-17 keypoint ground-truth dict, the ids of the images whose people
    are labelled in COCO-17: score only those). Image i has id i + 1, as in `to_coco`."""
    from service.data.synth.writer import categories

    gt = to_coco(records, joints=())  # images and ignore regions; people replaced below
    anns = [{**a, "keypoints": [0.0] * 3 * 17} for a in gt["annotations"] if a["iscrowd"]]
    scored = []
    for i, rec in enumerate(records, start=1):
        if rec.coco17 is not None:
            scored.append(i)
            anns += [_person(i, kp, box, area)
                     for kp, box, area in zip(rec.coco17, rec.boxes, rec.areas, strict=True)]
    gt["annotations"] = [{**a, "id": n} for n, a in enumerate(anns, start=1)]
    gt["categories"] = [categories("coco17")[0]]
    return gt, scored


def _person(image_id: int, kp: np.ndarray, box: np.ndarray, area: float) -> dict[str, Any]:
    """One ground-truth person as a COCO annotation (id set by the caller)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return {"id": 0, "image_id": image_id, "category_id": 1, "iscrowd": 0,
            "keypoints": kp.ravel().tolist(), "num_keypoints": int((kp[:, 2] > 0).sum()),
            "bbox": [x1, y1, x2 - x1, y2 - y1], "area": float(area)}


def to_coco(records: list[ImageRecord], joints: tuple[int, ...] | None = None) -> dict[str, Any]:
    """Records -> a COCO keypoint ground-truth dict in AIC-14 order; image i has id i + 1.

    joints: the AIC-14 joints scored; the others become unlabelled. A person left with no
    labelled joint gets num_keypoints 0, which COCOeval ignores (as it does crowds). Ignore
    regions become iscrowd annotations: detections inside them are neither right nor wrong."""
    from service.data.synth.writer import categories

    keep = np.zeros(AIC14.num_joints, bool)
    keep[list(range(AIC14.num_joints) if joints is None else joints)] = True
    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    for i, rec in enumerate(records, start=1):
        images.append({"id": i, "file_name": str(rec.path), "width": rec.width,
                       "height": rec.height})
        for kp, box, area in zip(rec.keypoints, rec.boxes, rec.areas, strict=True):
            anns.append({**_person(i, np.where(keep[:, None], kp, 0.0), box, area),
                         "id": len(anns) + 1})
        for region in rec.ignore:
            x, y, w, h = (float(v) for v in region["bbox"])
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": 1, "iscrowd": 1,
                         "keypoints": [0.0] * 3 * AIC14.num_joints, "num_keypoints": 0,
                         "bbox": [x, y, w, h], "area": w * h})
    return {"images": images, "annotations": anns, "categories": [categories()[0]]}
