"""`boxpose predict IMAGE [--boxes FILE] [--render OUT.png]`: poses of one image, no server.

Prints the same JSON as `POST /v1/poses` (without queue timings). A video (`clip.mp4 --out
poses.ndjson`) gives the NDJSON lines of `POST /v1/poses:video` (video_predict.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from service.config import Settings
from service.types import Box, BoxSource


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", type=Path,
                        help="JPEG, PNG, WebP or BMP image, or a video (.mp4, .mkv, .webm, ...)")
    parser.add_argument("--out", type=Path, metavar="OUT.ndjson",
                        help="video: write the NDJSON lines here (default: stdout)")
    parser.add_argument("--fps", type=float, help="video: sample at this rate")
    parser.add_argument("--max-frames", type=int, help="video: answer at most this many frames")
    parser.add_argument("--score-threshold", type=float, default=0.0,
                        help="video: drop persons scoring below this")
    parser.add_argument("--boxes", type=Path, help="JSON file [[x1, y1, x2, y2], ...]")
    parser.add_argument("--render", type=Path, metavar="OUT",
                        help="image: the overlay as PNG; video: a clip (.mp4, .webm, .mkv, .mov) "
                        "with skeletons and track ids, at the working size")
    parser.add_argument("--pose-model", help="pose model name in the store (BOXPOSE_POSE_MODEL)")
    parser.add_argument("--detector-model",
                        help="detector name (default: the pose model's own choice)")
    parser.add_argument("--no-detector", action="store_true", help="boxes from greedy grouping")
    parser.add_argument("--model-store", type=Path, help="model store directory")
    parser.add_argument("--device", help="auto, cpu or cuda")
    parser.add_argument("--scales", help="comma-separated input scales, e.g. 0.7,1.0,1.3")
    parser.add_argument("--flip", action="store_true", help="also run the mirrored image")
    parser.add_argument("--keep-neck", action="store_true",
                        help="a COCO-18 model answers COCO-17: also give its neck")


def run(args: argparse.Namespace) -> int:
    from service.runtime.factory import from_settings
    from service.runtime.images import ImageError, decode_image, encode_png
    from service.runtime.keypoint_output import keypoint_layout
    from service.runtime.model_store import ModelStoreError
    from service.runtime.render import render
    from service.runtime.serialise import pose_dict
    from service.runtime.video_predict import is_video

    settings = _settings(args)
    if is_video(args.image):
        return _predict_video(args, settings)
    try:
        image = decode_image(args.image.read_bytes(), settings.max_pixels)
        boxes = _read_boxes(args.boxes) if args.boxes else None
        pipeline = from_settings(settings)
    except (OSError, ImageError, ModelStoreError, ValueError) as exc:
        print(f"boxpose predict: {exc}", file=sys.stderr)
        return 2
    result = pipeline.predict(image.rgb, boxes)
    if args.render:
        args.render.write_bytes(encode_png(render(image.rgb, result.poses, pipeline.skeleton)))
    t = result.timings
    layout = keypoint_layout(pipeline.skeleton, args.keep_neck)
    output = {
        "model": {"name": pipeline.pose.name, "version": pipeline.pose.version},
        "image": {"width": image.width, "height": image.height},
        "keypoint_names": list(layout.names),
        "persons": [pose_dict(p, layout) for p in result.poses],
        "timings_ms": {k: round(v * 1e3, 3) for k, v in
                       (("detect", t.detect), ("forward", t.forward), ("parse", t.parse))},
    }  # fmt: skip
    print(json.dumps(output, indent=2))
    return 0


def _predict_video(args: argparse.Namespace, settings: Settings) -> int:
    from service.runtime import video_predict
    from service.runtime.factory import from_settings
    from service.runtime.model_store import ModelStoreError

    try:
        pipeline = from_settings(settings)
    except (ModelStoreError, ValueError) as exc:
        print(f"boxpose predict: {exc}", file=sys.stderr)
        return 2
    return video_predict.run(args, settings, pipeline)


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    for name in ("pose_model", "detector_model", "model_store", "device", "scales"):
        if getattr(args, name, None):
            overrides[name] = getattr(args, name)
    if args.no_detector:
        overrides["detector_model"] = ""  # no detector
    if getattr(args, "flip", False):
        overrides["flip"] = True
    return Settings.model_validate(overrides)


def _read_boxes(path: Path) -> list[Box]:
    data = json.loads(path.read_text())
    if not isinstance(data, list) or not all(isinstance(r, list) and len(r) == 4 for r in data):
        raise ValueError(f"{path}: expected [[x1, y1, x2, y2], ...]")
    boxes = [Box(float(r[0]), float(r[1]), float(r[2]), float(r[3]), 1.0, BoxSource.CLIENT)
             for r in data]
    if any(b.x2 <= b.x1 or b.y2 <= b.y1 for b in boxes):
        raise ValueError(f"{path}: every box needs x2 > x1 and y2 > y1")
    return boxes
