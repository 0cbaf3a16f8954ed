"""Forward time and FLOPs of the network presets at 848x480 on this CPU.

Run: .venv/bin/python bench/lite_forward.py [--repeats 10] [--threads 2]
Prints a table (median ms, GFLOPs, parameters, ratio to `lite`) and rewrites its section of
BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.report import write_section  # noqa: E402
from service.network import build_network  # noqa: E402
from service.network.net import count_parameters  # noqa: E402
from service.skeleton import AIC14  # noqa: E402


def measure(preset: str, repeats: int) -> dict[str, float]:
    net = build_network(preset, AIC14).eval()
    x = torch.rand(1, 3, 480, 848) * 255
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        net(x)
    times = []
    with torch.inference_mode():
        net(x)  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            net(x)
            times.append(time.perf_counter() - start)
    return {
        "ms": statistics.median(times) * 1000,
        "gflops": counter.get_total_flops() / 1e9,
        "params": count_parameters(net) / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--presets", default="lite,paper")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = {p: measure(p, args.repeats if p == "lite" else max(3, args.repeats // 3))
            for p in args.presets.split(",")}  # fmt: skip
    base = rows["lite"]["ms"] if "lite" in rows else 1.0
    lines = [
        "## Network forward time at 848x480",
        "",
        f"848x480, batch 1, float32, {args.threads} threads, {platform.processor() or 'cpu'}, "
        f"torch {torch.__version__}; median of {args.repeats} runs (paper: fewer).",
        "",
        "| preset | params | GFLOPs | forward ms | x lite |",
        "|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['params']:.2f}M | {r['gflops']:.1f} | {r['ms']:.1f} | "
                     f"{r['ms'] / base:.2f} |")  # fmt: skip
    lines += ["", "Command: `.venv/bin/python bench/lite_forward.py`"]
    text = "\n".join(lines)
    print(text)
    write_section("lite_forward", text)


if __name__ == "__main__":
    main()
