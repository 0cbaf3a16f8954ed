"""Keypoint files in COCO's json layout (COCO, AI Challenger, CrowdPose, OCHuman, ExLPose,
PoseTrack18, MHP, JHMDB, Halpe, Human-Art, as mmpose ships them) and MPII's list format ->
`ImageRecord`s in AIC-14 order, through `joint_maps`.

Per person: keypoints mapped by the subset's `JointMap`; box = the annotation's bbox (else the
joints' extent, `real.joints_box`); OKS area = the annotation's area (else 0.53 x box area).
Crowds (iscrowd 1) and people with no labelled AIC-14 joint become ignore regions (their
segmentation, else their box), as do PoseTrack's per-frame ignore polygons.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from service.data.joint_maps import JOINT_MAPS, JointMap, convert_flags, to_aic14
from service.data.real import (
    AREA_PER_BOX_AREA,
    ImageRecord,
    joints_box,
    xywh_to_xyxy,
)


@dataclass(frozen=True)
class ReadOptions:
    proxies: bool = False  # use the joint map's approximate stand-ins (opt-in)
    neck_from_shoulders: bool = False  # derive unlabelled necks from the shoulders (opt-in)


DEFAULT_OPTIONS = ReadOptions()
# (N, 14, 3) keypoints, (N, 4) boxes, (N,) areas, (N, 17, 3) COCO-17 keypoints or None
People = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]
COCO17_MAP = "coco17"  # sources with this map keep their own 17 joints too (ImageRecord.coco17)


@dataclass(frozen=True)
class SubsetSpec:
    """One annotation file of the mmpose test data (paths relative to its folder)."""

    annotations: str
    images: str
    joint_map: str  # a key of JOINT_MAPS
    layout: str = "coco"  # "coco" json or "mpii" list
    strip_prefix: str = ""  # removed from file_name (Human-Art's 'HumanArt/images/')
    multi_person: bool = True  # every person in its images is annotated (dev multi-person set)


MMPOSE_SUBSETS: dict[str, SubsetSpec] = {
    "aic": SubsetSpec("aic/test_aic.json", "aic", "aic14"),
    "coco": SubsetSpec("coco/test_coco.json", "coco", "coco17"),
    "crowdpose": SubsetSpec("crowdpose/test_crowdpose.json", "crowdpose", "crowdpose"),
    "ochuman": SubsetSpec("ochuman/test_ochuman.json", "ochuman", "coco17"),
    "exlpose": SubsetSpec("exlpose/test_exlpose.json", "exlpose", "crowdpose"),
    "posetrack18": SubsetSpec("posetrack18/annotations/test_posetrack18_val.json",
                              "posetrack18", "posetrack"),
    "mhp": SubsetSpec("mhp/test_mhp.json", "mhp", "mpii"),
    # One annotated person per image in photos of several: not in the multi-person set.
    "mpii": SubsetSpec("mpii/test_mpii.json", "mpii", "mpii", layout="mpii", multi_person=False),
    "jhmdb": SubsetSpec("jhmdb/test_jhmdb_sub1.json", "jhmdb", "jhmdb", multi_person=False),
    # The coco subset's four images again (Halpe-136 labels); two drawings and one photo.
    "halpe": SubsetSpec("halpe/test_halpe.json", "coco", "halpe26", multi_person=False),
    "humanart": SubsetSpec("humanart/test_humanart.json", "humanart", "coco17",
                           strip_prefix="HumanArt/images/", multi_person=False),
}


def read_subset(root: Path, name: str, options: ReadOptions = ReadOptions()) -> list[ImageRecord]:
    """mmpose test-data folder + subset name -> its records (subset = name)."""
    spec = MMPOSE_SUBSETS[name]
    reader = READERS[spec.layout]
    return reader(Path(root) / spec.annotations, Path(root) / spec.images,
                  JOINT_MAPS[spec.joint_map], options, spec.strip_prefix, name)


def read_coco_layout(annotation_file: Path, image_dir: Path, joint_map: JointMap,
                     options: ReadOptions = ReadOptions(), strip_prefix: str = "",
                     subset: str = "") -> list[ImageRecord]:
    """A COCO-layout keypoint json -> one record per image, in file order."""
    data = json.loads(Path(annotation_file).read_text())
    by_image: dict[Any, list[dict[str, Any]]] = {}
    for ann in data["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    records = []
    for image in data["images"]:
        name = str(image["file_name"]).removeprefix(strip_prefix)
        people, ignore = _people(by_image.get(image["id"], []), joint_map, options,
                                 (int(image["height"]), int(image["width"])))
        ignore += _posetrack_regions(image)
        keypoints, boxes, areas, coco17 = people
        records.append(ImageRecord(Path(image_dir) / name, int(image["width"]),
                                   int(image["height"]), keypoints, boxes, areas,
                                   tuple(ignore), subset, {"image_id": image["id"]}, coco17))
    return records


def _people(anns: list[dict[str, Any]], joint_map: JointMap, options: ReadOptions,
            size: tuple[int, int]) -> tuple[People, list[dict[str, Any]]]:
    """One image's annotations -> ((N, 14, 3) keypoints, (N, 4) boxes, (N,) areas), ignore."""
    kps, boxes, areas, own, ignore = [], [], [], [], []
    for ann in anns:
        raw = np.asarray(ann.get("keypoints", []), np.float64).reshape(-1, 3)
        if len(raw) < len(joint_map.joints):
            raise ValueError(f"{len(raw)} keypoints, the {joint_map.name} map needs "
                             f"{len(joint_map.joints)}")
        raw = convert_flags(raw[: len(joint_map.joints)], joint_map.visibility)
        kp = to_aic14(raw[None], joint_map, options.proxies, options.neck_from_shoulders)[0]
        if ann.get("iscrowd") or not (kp[:, 2] > 0).any():
            ignore.append(_region(ann))
            continue
        box = (np.array(xywh_to_xyxy(ann["bbox"])) if "bbox" in ann
               else joints_box(kp, size=size))  # fmt: skip
        area = float(ann.get("area") or AREA_PER_BOX_AREA * (box[2] - box[0]) * (box[3] - box[1]))
        kps.append(kp)
        own.append(raw)
        boxes.append(box)
        areas.append(area)
    coco17 = np.array(own).reshape(-1, 17, 3) if joint_map.name == COCO17_MAP else None
    people: People = (np.array(kps).reshape(-1, 14, 3), np.array(boxes).reshape(-1, 4),
                      np.array(areas, np.float64), coco17)
    return people, ignore


def _region(ann: dict[str, Any]) -> dict[str, Any]:
    """An ignored annotation -> its region: bbox (+ segmentation where given)."""
    region: dict[str, Any] = {"bbox": [float(v) for v in ann["bbox"]]}
    if ann.get("segmentation"):
        region["segmentation"] = ann["segmentation"]
    return region


def _posetrack_regions(image: dict[str, Any]) -> list[dict[str, Any]]:
    """PoseTrack's ignore_regions_x / _y polygons of one frame -> ignore regions."""
    regions = []
    for xs, ys in zip(image.get("ignore_regions_x", []), image.get("ignore_regions_y", []),
                      strict=True):
        if len(xs) < 3:
            continue
        poly = np.column_stack([xs, ys]).astype(np.float64)  # (P, 2)
        (x1, y1), (x2, y2) = poly.min(axis=0), poly.max(axis=0)
        regions.append({"bbox": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
                        "segmentation": [poly.ravel().tolist()]})
    return regions


def read_mpii_list(annotation_file: Path, image_dir: Path, joint_map: JointMap,
                   options: ReadOptions = ReadOptions(), strip_prefix: str = "",
                   subset: str = "") -> list[ImageRecord]:
    """MPII's list format ([{image, joints (16, 2), joints_vis (16,), center, scale}], MATLAB
    1-based pixels) -> records; entries of one image are grouped, sizes read from the files."""
    from PIL import Image

    entries: dict[str, list[np.ndarray]] = {}
    for entry in json.loads(Path(annotation_file).read_text()):
        raw = np.column_stack([np.asarray(entry["joints"], np.float64) - 1.0,
                               np.asarray(entry["joints_vis"], np.float64)])
        raw = convert_flags(raw, "labelled")  # joints_vis: 1 = labelled, no occlusion flag
        kp = to_aic14(raw[None], joint_map, options.proxies, options.neck_from_shoulders)[0]
        if (kp[:, 2] > 0).any():
            entries.setdefault(str(entry["image"]).removeprefix(strip_prefix), []).append(kp)
    records = []
    for name, kps in entries.items():
        path = Path(image_dir) / name
        with Image.open(path) as im:
            width, height = im.size
        boxes = np.array([joints_box(kp, size=(height, width)) for kp in kps])
        areas = AREA_PER_BOX_AREA * (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        records.append(ImageRecord(path, width, height, np.array(kps), boxes, areas,
                                   subset=subset, extra={"image_id": name}))
    return records


READERS = {"coco": read_coco_layout, "mpii": read_mpii_list}
