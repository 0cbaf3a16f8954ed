"""`boxpose eval --dataset NAME` (or `--annotations FILE --format MAP`): a served pipeline on
real photos with their ground truth, with the true boxes and with its own."""

from __future__ import annotations

import argparse
from pathlib import Path

from service.data.joint_maps import JOINT_MAPS
from service.data.lsp import lsp_records
from service.data.mmpose_sets import ReadOptions, read_coco_layout, read_mpii_list
from service.data.real import ImageRecord
from service.data.real_split import DEFAULT_DATA_ROOT, dataset_names, load_dataset
from service.evaluation.pck import NORMALISERS
from service.evaluation.real_eval import BOX_MODES

FORMATS = sorted(JOINT_MAPS) + ["mpii-list"]


def register_real(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("real photos (instead of a project COCO file)")
    group.add_argument("--dataset", metavar="NAME",
                       help=f"a real data set: {', '.join(dataset_names())}")
    group.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT,
                       help="folder of the shared data sets (default: ../shared/data)")
    group.add_argument("--format", choices=FORMATS,
                       help="joint order of --annotations, read into AIC-14: a COCO-layout "
                            "json; mpii-list: MPII's list format; lsp: a joints.mat beside "
                            "its images/ folder")
    group.add_argument("--box-modes", default="true,served",
                       help="true: the ground-truth boxes as client boxes; served: the "
                            "pipeline's own boxes (default: both)")
    group.add_argument("--normaliser", choices=sorted(NORMALISERS),
                       help="PCK size: torso (default for lspet-dev) or box (default otherwise)")
    group.add_argument("--pck-threshold", type=float, default=0.2)
    group.add_argument("--proxies", action="store_true",
                       help="use approximate stand-in joints (PoseTrack head_bottom as neck)")
    group.add_argument("--neck-from-shoulders", action="store_true",
                       help="label an unlabelled neck at the shoulders' midpoint")


def real_records(args: argparse.Namespace) -> list[ImageRecord]:
    options = ReadOptions(args.proxies, args.neck_from_shoulders)
    if args.dataset is not None:
        try:
            return load_dataset(args.dataset, args.data_root, options, args.limit)
        except (ValueError, FileNotFoundError) as exc:
            raise SystemExit(f"boxpose eval: {exc}") from exc
    if args.annotations is None:
        raise SystemExit("--format needs --annotations FILE (and --images DIR)")
    if args.format == "lsp":
        return lsp_records(Path(args.annotations).parent)[: args.limit]
    if args.images is None:
        raise SystemExit(f"--format {args.format} needs --images DIR")
    if args.format == "mpii-list":
        records = read_mpii_list(args.annotations, args.images, JOINT_MAPS["mpii"], options)
    else:
        records = read_coco_layout(args.annotations, args.images, JOINT_MAPS[args.format],
                                   options)
    return records[: args.limit]


def run_real(args: argparse.Namespace) -> int:
    from service.evaluation.real_report import evaluate, report_lines
    from service.runtime.factory import load_pipeline
    from service.runtime.protocol import PipelineConfig

    if args.oracle:
        raise SystemExit("--oracle is for project COCO files; real photos need --model")
    modes = [m.strip() for m in str(args.box_modes).split(",") if m.strip()]
    if not modes or any(m not in BOX_MODES for m in modes):
        raise SystemExit(f"--box-modes takes {', '.join(BOX_MODES)}, not {args.box_modes!r}")
    records = real_records(args)
    normaliser = args.normaliser or ("torso" if args.dataset == "lspet-dev" else "box")
    config = PipelineConfig(person_scale=not args.fixed_scale)
    pipeline = load_pipeline(args.model, detector_name=args.detector, device="cpu",
                             config=config)
    name = args.dataset or str(args.annotations)
    print(f"{name}: model {args.model}, detector {args.detector or 'none'}, "
          f"{len(records)} images, {sum(r.num_people for r in records)} people")
    for mode in modes:
        report = evaluate(pipeline, records, mode, normaliser, args.pck_threshold)
        print("\n".join(report_lines(report)))
    return 0
