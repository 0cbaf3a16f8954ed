"""COCO keypoint files -> `Sample`s: COCO-17 people become COCO-18 (a neck at the shoulders'
midpoint, part of that skeleton's definition), or, asked for `skeleton=AIC14`, AIC-14 through
the joint-mapping table (neck and head top unlabelled); files in this project's AIC-14 order
(`boxpose synth`) stay AIC-14. Crowd regions and people without keypoints (num_keypoints == 0,
or none of the skeleton's) become the ignore mask, from their segmentation (polygons or RLE,
decoded with pycocotools) or, lacking one, their box."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from service.data.joint_maps import JOINT_MAPS, to_aic14
from service.data.sample import Sample, boxes_mask, read_rgb
from service.skeleton import AIC14, COCO18, Skeleton, coco17_to_coco18


def skeleton_of(category: dict[str, Any]) -> Skeleton:
    """The project skeleton that a COCO category's keypoint list maps onto."""
    names = tuple(category.get("keypoints", ()))
    if len(names) == 17:
        return COCO18
    if names == AIC14.joints:
        return AIC14
    raise ValueError(f"unsupported keypoint list ({len(names)} joints): {names[:4]}...")


def _xyxy(bbox: list[float]) -> list[float]:
    x, y, w, h = (float(v) for v in bbox)
    return [x, y, x + w, y + h]


def segmentation_mask(ann: dict[str, Any], height: int, width: int) -> np.ndarray:
    """One annotation's region as (H, W) bool: polygons, RLE (compressed or not), else its box."""
    seg = ann.get("segmentation")
    if not seg:
        return boxes_mask(np.array([_xyxy(ann["bbox"])]), height, width)
    from pycocotools import mask as mask_utils

    if isinstance(seg, list):  # polygons
        rle = mask_utils.merge(mask_utils.frPyObjects(seg, height, width))
    elif isinstance(seg.get("counts"), list):  # uncompressed RLE
        rle = mask_utils.frPyObjects(seg, height, width)
    else:
        rle = seg
    return mask_utils.decode(rle).astype(bool).reshape(height, width)


def is_ignored(ann: dict[str, Any]) -> bool:
    return bool(ann.get("iscrowd", 0)) or int(ann.get("num_keypoints", 0)) == 0


class CocoKeypoints:
    """A COCO keypoint file + its image directory as an indexable `Source`."""

    def __init__(self, annotation_file: Path, image_dir: Path, skip_empty: bool = False,
                 skeleton: Skeleton | None = None) -> None:
        data = json.loads(Path(annotation_file).read_text())
        person = next(c for c in data["categories"] if c.get("name") == "person")
        native = skeleton_of(person)
        readable = (COCO18, AIC14) if native is COCO18 else (native,)
        if skeleton is not None and skeleton not in readable:
            raise ValueError(f"cannot read {native.name} annotations as {skeleton.name}")
        self.skeleton: Skeleton = skeleton or native
        self.native = native
        self.category_id = int(person["id"])
        self.image_dir = Path(image_dir)
        by_image: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for ann in data["annotations"]:
            if int(ann.get("category_id", self.category_id)) == self.category_id:
                by_image[int(ann["image_id"])].append(ann)
        self.images = [im for im in data["images"]
                       if not skip_empty or any(not is_ignored(a) for a in by_image[im["id"]])]
        self.by_image = by_image

    def __len__(self) -> int:
        return len(self.images)

    def annotations(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(N, J, 3) keypoints, (N, 4) boxes of the annotated people, (H, W) ignore mask."""
        info = self.images[index]
        h, w = int(info["height"]), int(info["width"])
        anns = self.by_image.get(int(info["id"]), [])
        kept = [a for a in anns if not is_ignored(a)]
        raw = np.array([a["keypoints"] for a in kept], np.float64).reshape(len(kept), -1, 3)
        raw = self._convert(raw)
        raw[raw[..., 2] == 0, :2] = 0.0
        labelled = np.asarray((raw[..., 2] > 0).any(axis=1)).tolist()  # (N,) any joint
        ignored = [a for a in anns if is_ignored(a)]
        ignored += [a for a, k in zip(kept, labelled, strict=True) if not k]
        kept = [a for a, k in zip(kept, labelled, strict=True) if k]
        raw = raw[labelled]
        boxes = np.array([_xyxy(a["bbox"]) for a in kept], np.float64).reshape(-1, 4)
        ignore = None
        if ignored:
            ignore = np.zeros((h, w), bool)
            for a in ignored:
                ignore |= segmentation_mask(a, h, w)
        return raw.reshape(len(kept), self.skeleton.num_joints, 3), boxes, ignore

    def _convert(self, raw: np.ndarray) -> np.ndarray:
        """(N, K, 3) file keypoints -> (N, J, 3) in `self.skeleton`."""
        if self.native is COCO18 and self.skeleton is AIC14:
            return to_aic14(raw, JOINT_MAPS["coco17"])
        return coco17_to_coco18(raw) if self.skeleton is COCO18 else raw

    def load(self, index: int) -> Sample:
        keypoints, boxes, ignore = self.annotations(index)
        image = read_rgb(str(self.image_dir / self.images[index]["file_name"]))
        return Sample(image, keypoints, boxes, ignore)
