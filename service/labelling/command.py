"""`boxpose label IMAGES_DIR --out labels.json [--boxes boxes.json]`: COCO pseudo-labels.

Boxes file (optional): {"file name": [[x1, y1, x2, y2], ...], ...}; images it names get one
person per box (in order), the others go to the detector.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from service.errors import BoxposeError
from service.types import Box, Pose

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", type=Path, help="folder of photos (not searched recursively)")
    parser.add_argument("--out", type=Path, required=True, help="COCO keypoints json to write")
    parser.add_argument("--boxes", type=Path, help='{"file name": [[x1, y1, x2, y2], ...]}')
    parser.add_argument("--pose-model", default="blazepose-topdown")
    parser.add_argument("--detector-model",
                        help="detector (default: the pose model's own, else detector-lite)")
    parser.add_argument("--model-store", type=Path, help="model store directory")
    parser.add_argument("--min-score", type=float, default=0.5, help="pose score to keep")
    parser.add_argument("--batch-size", type=int, default=4, help="images per model call")


def read_boxes(path: Path) -> dict[str, list[Box]]:
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise BoxposeError(f"{path}: expected {{file name: [[x1, y1, x2, y2], ...]}}")
    boxes: dict[str, list[Box]] = {}
    for name, rows in data.items():
        if not isinstance(rows, list) or not all(
                isinstance(r, list) and len(r) == 4 and r[2] > r[0] and r[3] > r[1] for r in rows):
            raise BoxposeError(f"{path}: {name!r}: boxes must be [[x1, y1, x2, y2], ...]")
        boxes[name] = [Box(float(r[0]), float(r[1]), float(r[2]), float(r[3])) for r in rows]
    return boxes


def run(args: argparse.Namespace) -> int:
    import cv2

    from service.config import Settings
    from service.labelling.coco_labels import LabelConfig, document
    from service.runtime.factory import detector_for, load_pipeline
    from service.runtime.protocol import ImageInput, PipelineConfig

    files = sorted(p for p in args.images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) \
        if args.images.is_dir() else []
    if not files:
        raise BoxposeError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {args.images}")
    given = read_boxes(args.boxes) if args.boxes else {}
    overrides: dict[str, Any] = {"pose_model": args.pose_model, "device": "cpu"}
    if args.detector_model:
        overrides["detector_model"] = args.detector_model
    if args.model_store:
        overrides["model_store"] = args.model_store
    runtime = Settings.model_validate(overrides).runtime()
    pipeline = load_pipeline(runtime.pose_model, detector_for(runtime), runtime.device,
                             runtime.model_store, PipelineConfig(scales=runtime.scales))
    images: list[dict[str, Any]] = []
    poses: list[list[Pose]] = []
    for start in range(0, len(files), args.batch_size):
        chunk, inputs = files[start:start + args.batch_size], []
        for path in chunk:
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                raise BoxposeError(f"cannot decode {path}")
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            images.append({"id": len(images) + 1, "file_name": path.name,
                           "width": int(rgb.shape[1]), "height": int(rgb.shape[0])})
            inputs.append(ImageInput(rgb, given.get(path.name), runtime.scales))
        out = pipeline.forward_batch(inputs)
        poses += [pipeline.parse(item) for item in out.images]
        print(f"{len(images)}/{len(files)} images, {sum(map(len, poses))} people")
    info = {"description": "boxpose pseudo-labels", "images_dir": str(args.images),
            "pose_model": {"name": pipeline.pose.name, "version": pipeline.pose.version,
                           "sha256": pipeline.pose.sha256},
            "detector_model": pipeline.detector.name if pipeline.detector else None,
            "skeleton": pipeline.skeleton.name}
    doc = document(images, poses, pipeline.skeleton, info, LabelConfig(min_score=args.min_score))
    args.out.write_text(json.dumps(doc) + "\n")
    print(f"wrote {args.out}: {len(doc['annotations'])} people in {len(images)} images")
    return 0
