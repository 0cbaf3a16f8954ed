"""`boxpose eval`: a COCO keypoint file + a model or the oracle -> AP, AP50, AP75, APM, APL;
real photos (`--dataset`, or `--annotations` with `--format`): `real_command`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from service.evaluation.coco_eval import (
    evaluate_keypoints,
    format_stats,
    joint_columns,
    poses_to_results,
    select_joints,
    sigmas_for,
    skeleton_from_category,
    truth_joints,
)
from service.evaluation.oracle import ORACLE_JOINTS, image_people, oracle_results
from service.evaluation.real_command import register_real, run_real
from service.parsing import PARSERS, ParserConfig
from service.skeleton import Skeleton


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--annotations", type=Path,
                        help="COCO keypoint JSON in a project skeleton (or see --format)")
    parser.add_argument("--images", type=Path, help="image directory (needed with --model)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--oracle", action="store_true",
                        help="maps encoded from the ground truth itself (measures the parser)")
    source.add_argument("--model", help="pose model name in the model store")
    parser.add_argument("--oracle-joints", choices=ORACLE_JOINTS, default="all",
                        help="with --oracle: maps from all labelled joints, or the visible only")
    parser.add_argument("--detector", help="detector model name (default: ground-truth boxes)")
    parser.add_argument("--parser", choices=sorted(PARSERS), default="boxes")
    parser.add_argument("--boxes", choices=("gt", "none"), default="gt",
                        help="ground-truth boxes, or none (greedy fallback boxes)")
    parser.add_argument("--scales", default="1.0", help="comma-separated, e.g. 0.7,1.0,1.3")
    parser.add_argument("--flip", action="store_true",
                        help="average with the mirrored image's maps (test-time flip)")
    parser.add_argument("--fixed-scale", action="store_true",
                        help="the requested scales of the working image, not the pose "
                             "manifest's person scale (runtime/person_scale.py)")
    parser.add_argument("--supplement", action="store_true",
                        help="add greedy boxes where the detector found nobody (with --detector)")
    parser.add_argument("--sigmas", choices=("aic", "coco", "both"), default="both")
    parser.add_argument("--out", type=Path, help="write predictions as a COCO results JSON")
    parser.add_argument("--limit", type=int, help="evaluate the first N images only")
    register_real(parser)


def run(args: argparse.Namespace) -> int:
    if args.dataset is not None or args.format is not None:
        return run_real(args)
    if args.annotations is None:
        raise SystemExit("boxpose eval: give --annotations FILE or --dataset NAME")
    ground_truth = json.loads(Path(args.annotations).read_text())
    skeleton = skeleton_from_category(ground_truth["categories"][0])
    if args.oracle_joints != "all" and not args.oracle:
        raise SystemExit("--oracle-joints is for --oracle (maps drawn from the ground truth)")
    columns = joint_columns(skeleton, truth_joints(ground_truth))  # COCO-17 file: no neck
    if args.oracle:
        results, ids = oracle_results(ground_truth, skeleton, args.parser, ParserConfig(),
                                      use_boxes=args.boxes == "gt", limit=args.limit,
                                      joints=args.oracle_joints)
        results = select_joints(results, columns)
    else:
        results, ids = _model_results(args, ground_truth, skeleton)
    if args.out:
        Path(args.out).write_text(json.dumps(results))
        print(f"wrote {len(results)} poses to {args.out}")
    names = ("aic", "coco") if args.sigmas == "both" else (args.sigmas,)
    if skeleton.name != "aic14":
        names = ("coco",)
    source = f"oracle ({args.oracle_joints} joints)" if args.oracle else f"model {args.model}"
    print(f"{len(ids)} images, {len(results)} poses, {source}, parser {args.parser}")
    for name in names:
        sigmas = sigmas_for(skeleton, name)[columns]
        stats = evaluate_keypoints(ground_truth, results, sigmas, ids)
        print(f"{name} sigmas: {format_stats(stats)}")
    if args.detector and not args.oracle:
        from service.evaluation.detector_ap import stored_detector_ap

        ap = stored_detector_ap(args.detector, args.annotations, args.images, args.limit)
        print(f"detector {args.detector}: {ap}")
    return 0


def _model_results(
    args: argparse.Namespace, ground_truth: dict[str, Any], skeleton: Skeleton
) -> tuple[list[dict], list[int]]:
    """Runs the runtime pipeline on each image (imported here only: it loads torch)."""
    import cv2

    from service.runtime.factory import load_pipeline
    from service.runtime.protocol import PipelineConfig

    if args.images is None:
        raise SystemExit("--model needs --images DIR")
    pipeline = load_pipeline(
        args.model, detector_name=args.detector, device="cpu",
        config=PipelineConfig(
            parser_name=args.parser, flip=args.flip, person_scale=not args.fixed_scale,
            parser=ParserConfig(supplement_detector_boxes=args.supplement),
        ),
    )
    try:  # the model's joints, by name, in the file's order (COCO-18 on COCO-17: no neck)
        columns = joint_columns(pipeline.skeleton, truth_joints(ground_truth))
    except ValueError as exc:
        raise SystemExit(f"boxpose eval: model {args.model}: {exc}") from exc
    scales = tuple(float(s) for s in str(args.scales).split(","))
    results, ids = [], []
    for image, _, boxes in image_people(ground_truth, skeleton, args.limit):
        bgr = cv2.imread(str(Path(args.images) / image["file_name"]), cv2.IMREAD_COLOR)
        if bgr is None:
            raise SystemExit(f"cannot read {image['file_name']} in {args.images}")
        given = None if args.detector or args.boxes == "none" else boxes
        result = pipeline.predict(bgr[:, :, ::-1].copy(), boxes=given, scales=scales)
        results += poses_to_results(result.poses, int(image["id"]))
        ids.append(int(image["id"]))
    return select_joints(results, columns), ids
