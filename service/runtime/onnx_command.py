"""`boxpose export --onnx NAME...`: a stored bottom-up pose net -> its ONNX file in the cache,
derived from the TorchScript and checked against it (runtime/engines.py), as serving with
BOXPOSE_ENGINE=onnxruntime would at first load."""

from __future__ import annotations

import argparse
from pathlib import Path

from service.runtime.engines import TOLERANCE, default_cache, onnx_for
from service.runtime.model_store import load_model


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--onnx", nargs="+", metavar="NAME",
                        help="stored pose models to derive ONNX files of (into --onnx-cache)")
    parser.add_argument("--onnx-cache", type=Path, help="default: ~/.cache/boxpose/onnx")


def claims(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "onnx", None))


def run(args: argparse.Namespace) -> int:
    for name in args.onnx:
        model = load_model(name, args.store)
        onnx, record = onnx_for(model, args.onnx_cache)
        print(f"{name}: {onnx.path} (sha256 {record.onnx_sha256[:12]}), max |ONNX - TorchScript| "
              f"{record.max_abs_diff:.1e} <= {TOLERANCE:.0e}; CPU ms on the check sample: "
              + ", ".join(f"{k} {v:.1f}" for k, v in record.cpu_ms.items()))
    if args.onnx_cache is None:
        print(f"cache: {default_cache()}")
    return 0
