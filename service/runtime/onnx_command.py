"""`boxpose export --onnx [NAME...]`: stored models (every one when no name is given: pose nets,
detectors, the top-down crops model) -> their ONNX files in the cache, derived from the
TorchScript and checked against it (runtime/engines.py), as serving with
BOXPOSE_ENGINE=onnxruntime would at first load."""

from __future__ import annotations

import argparse
from pathlib import Path

from service.runtime.engines import TOLERANCE, default_cache, onnx_for
from service.runtime.model_store import default_store, load_model


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--onnx", nargs="*", metavar="NAME",
                        help="stored models to derive ONNX files of (into --onnx-cache); "
                             "no name: every model of the store")  # fmt: skip
    parser.add_argument("--onnx-cache", type=Path, help="default: ~/.cache/boxpose/onnx")


def claims(args: argparse.Namespace) -> bool:
    return getattr(args, "onnx", None) is not None


def stored(store: Path | None) -> list[str]:
    """The names of every model in the store."""
    return sorted(p.parent.name for p in (store or default_store()).glob("*/manifest.json"))


def run(args: argparse.Namespace) -> int:
    for name in args.onnx or stored(args.store):
        model = load_model(name, args.store)
        onnx = onnx_for(model, args.onnx_cache)
        record = onnx.record
        files = ", ".join(f"{p.name} (sha256 {record.parts[k][:12]})"
                          for k, p in onnx.paths.items())  # fmt: skip
        print(f"{name} ({model.kind}): {files}; max deviation from TorchScript "
              f"{max(record.max_deviation.values()):.1e} <= {TOLERANCE:.0e}; CPU ms on the "
              "check sample: " + ", ".join(f"{k} {v:.1f}" for k, v in record.cpu_ms.items()))
    print(f"cache: {args.onnx_cache or default_cache()}")
    return 0
