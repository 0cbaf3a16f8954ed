"""The forward passes against this CPU: FLOPs, the measured fp32 matmul rate, achieved fraction.

For each model (default: pose-lite and detector-lite, the served default of
`service.config.Settings` and the BlazePose top-down pair): FLOPs at its working input counted by
`torch.utils.flop_counter.FlopCounterMode` (a multiply-add = 2 FLOPs) and its forward time,
with the channels-last input the service feeds and with an NCHW one; for the first model also
eager vs TorchScript, channels-last weights, a frozen + optimised TorchScript copy and batches
1 / 2 / 4 / 8. The reference is a square fp32 matmul (`torch.mm`, n = 1024) with the same
thread count, timed in the same rounds (every variant once per round, medians). The
convolutions of the first model, and of any model under half the matmul rate, are timed by
kind, which says where the time goes.

Run: `.venv/bin/python bench/forward_hardware.py [--models pose-lite,detector-lite,...]
[--repeats 5] [--threads 1]`. Writes its BENCHMARKS.md section and
bench/plots/forward_hardware.png."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import SHARED_NOTE, machine, median, new_figure, save  # noqa: E402
from bench.forward_variants import OpClass, conv_breakdown, variants_of  # noqa: E402
from bench.report import write_section  # noqa: E402
from service.config import Settings  # noqa: E402
from service.runtime.model_store import LoadedModel, load_model  # noqa: E402

MATMUL_N = 1024
WORKING = (480, 848)  # (H, W): a 16:9 image at the default working size (long side 848)


@dataclass(frozen=True)
class Measured:
    name: str
    gflops: float  # per call
    images: int  # per call
    wall_s: float  # median per call
    cpu_s: float  # median process CPU seconds per call


def default_models() -> str:
    """Every bundled network: the bottom-up pair and the served default (BlazePose)."""
    runtime = Settings().runtime()
    names = ["pose-lite", "detector-lite", runtime.pose_model, runtime.detector_model,
             "blazepose-topdown", "blazepose-detector"]  # fmt: skip
    return ",".join(dict.fromkeys(n for n in names if n))


def model_input(model: LoadedModel, batch: int = 1) -> torch.Tensor:
    """(B, 3, H, W) in [0, 255]: a person crop for a top-down model, else the working image."""
    if model.kind == "topdown":
        side = model.manifest.crop.size
        shape = (side, side)
    else:
        shape = WORKING
    generator = torch.Generator().manual_seed(0)
    return torch.rand(batch, 3, *shape, generator=generator) * 255


def count_flops(call: Callable[[], object]) -> float:
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        call()
    return counter.get_total_flops() / 1e9


def timed_rounds(
    calls: dict[str, Callable[[], object]], repeats: int
) -> dict[str, tuple[float, float]]:
    """Every call once per round (after one warm-up each), `repeats` rounds -> name: (median
    wall s, median process CPU s)."""
    walls: dict[str, list[float]] = {n: [] for n in calls}
    cpus: dict[str, list[float]] = {n: [] for n in calls}
    with torch.inference_mode():
        for call in calls.values():
            call()
        for _ in range(repeats):
            for name, call in calls.items():
                wall, cpu = time.perf_counter(), time.process_time()
                call()
                walls[name].append(time.perf_counter() - wall)
                cpus[name].append(time.process_time() - cpu)
    return {n: (median(walls[n]), median(cpus[n])) for n in calls}


def run(
    models: list[str], repeats: int, batches: list[int]
) -> tuple[list[Measured], float, float, dict[str, tuple[list[OpClass], float]]]:
    """-> measured variants, matmul GFLOP/s (wall, CPU), op profiles of the first model and of
    those under half the matmul rate."""
    a = torch.rand(MATMUL_N, MATMUL_N)
    b = torch.rand(MATMUL_N, MATMUL_N)
    calls: dict[str, Callable[[], object]] = {"matmul": lambda: torch.mm(a, b)}
    meta: dict[str, tuple[float, int]] = {}
    loaded = [load_model(name) for name in models]
    for index, model in enumerate(loaded):
        # FLOPs once per model (the stored module, batch 1): optimised copies may run ops the
        # counter does not know (mkldnn layouts), and FLOPs scale with the batch.
        per_image = count_flops(lambda m=model: m.module(model_input(m)))
        print(f"{model.name}: {per_image:.2f} GFLOPs per image", flush=True)
        for variant in variants_of(model, batches if index == 0 else [1], index == 0):
            x = model_input(model, variant.batch)
            if variant.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            calls[variant.name] = lambda m=variant.module, x=x: m(x)  # type: ignore[misc]
            meta[variant.name] = (per_image * variant.batch, variant.batch)
    times = timed_rounds(calls, repeats)
    mm = 2 * MATMUL_N**3 / 1e9
    rate = (mm / times["matmul"][0], mm / times["matmul"][1])
    measured = [Measured(n, g, b, *times[n]) for n, (g, b) in meta.items()]
    profiles = {}
    for index, model in enumerate(loaded):
        first = measured_of(measured, f"{model.name} TorchScript")
        if index == 0 or first.gflops / first.cpu_s < 0.5 * rate[1]:
            x = model_input(model).contiguous(memory_format=torch.channels_last)
            profiles[model.name] = (conv_breakdown(model.module, x), first.cpu_s)
    return measured, *rate, profiles


def measured_of(measured: list[Measured], name: str) -> Measured:
    return next(m for m in measured if m.name == name)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", default=default_models(), help="model names in the store")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batches", default="1,2,4,8")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    host = machine(args.threads)
    models = [m for m in args.models.split(",") if m]
    measured, wall_rate, cpu_rate, profiles = run(
        models, args.repeats, [int(b) for b in args.batches.split(",")])
    text = report(measured, wall_rate, cpu_rate, profiles, args, host)
    print(text)
    if not args.no_write:
        write_section("forward_hardware", text)
    return 0


def report(measured: list[Measured], wall_rate: float, cpu_rate: float,
           profiles: dict[str, tuple[list[OpClass], float]], args: argparse.Namespace,
           host: str) -> str:  # fmt: skip
    lines = [
        "## The forward passes against the hardware", "",
        f"Command: `.venv/bin/python bench/forward_hardware.py --models {args.models} "
        f"--repeats {args.repeats} --threads {args.threads} --batches {args.batches}`", "",
        f"{host}; torch {torch.__version__}. Inputs: the working image {WORKING[1]}x{WORKING[0]} "
        "(pose and detector models; a detector resizes inside), a 256x256 crop (top-down), "
        "in the channels-last memory layout the service feeds them (`pad_batch`; 'NCHW input' "
        "rows: the contiguous layout it fed before). "
        "FLOPs by torch's FlopCounterMode on the stored module at batch 1 (multiply-add = 2). "
        f"Reference: fp32 `torch.mm` {MATMUL_N}x{MATMUL_N}, same threads, in the same rounds: "
        f"**{cpu_rate:.1f} GFLOP/s** per CPU second ({wall_rate:.1f} per wall second). "
        f"Medians of {args.repeats} rounds; 'of matmul' = (GFLOPs / CPU s) / matmul rate "
        "(process CPU time: waiting for a core on the shared machine is not counted). "
        "Target: >= 50% of the matmul rate.", "",
        "| model / variant | batch | GFLOPs per image | ms per image (CPU) | ms per image "
        "(wall) | GFLOP/s (CPU) | of matmul |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for m in measured:
        per_cpu, per_wall = m.cpu_s / m.images, m.wall_s / m.images
        achieved = m.gflops / m.cpu_s
        lines.append(f"| {m.name} | {m.images} | {m.gflops / m.images:.2f} | "
                     f"{1000 * per_cpu:.1f} | {1000 * per_wall:.1f} | {achieved:.1f} | "
                     f"{100 * achieved / cpu_rate:.0f}% |")  # fmt: skip
    for name, (classes, total) in profiles.items():
        lines += profile_lines(name, classes, total, cpu_rate, args.threads)
    lines += ["", plot(measured, cpu_rate), "", SHARED_NOTE]
    return "\n".join(lines)


def profile_lines(name: str, classes: list[OpClass], forward_s: float, cpu_rate: float,
                  threads: int) -> list[str]:  # fmt: skip
    """One model's breakdown: convolutions by kind, then the rest of the forward."""
    lines = ["", f"Where `{name}`'s time goes (batch 1, {threads} thread(s)): every distinct "
             "convolution of its forward (recorded by torch.profiler with its shapes and "
             "arguments) timed on its own in CPU time (fastest of 3), times its count; the rest "
             "= the forward's median CPU time above minus the convolutions.", "",
             "| op | calls | CPU ms | share of forward | GFLOP | GFLOP/s | of matmul |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for op in classes:
        rate = op.gflop / op.seconds if op.seconds else 0.0
        lines.append(f"| {op.name} | {op.calls} | {1000 * op.seconds:.1f} | "
                     f"{100 * op.seconds / forward_s:.0f}% | {op.gflop:.2f} | {rate:.1f} | "
                     f"{100 * rate / cpu_rate:.0f}% |")  # fmt: skip
    rest = max(forward_s - sum(op.seconds for op in classes), 0.0)
    lines.append(f"| everything else (pooling, batch norm, activations, adds, copies) | | "
                 f"{1000 * rest:.1f} | {100 * rest / forward_s:.0f}% | 0 | | |")
    return lines


def plot(measured: list[Measured], cpu_rate: float) -> str:
    fig, axes = new_figure(7.0, 3.6)
    names = [m.name for m in measured]
    fractions = [100 * m.gflops / m.cpu_s / cpu_rate for m in measured]
    axes.barh(names[::-1], fractions[::-1], color="tab:blue")
    axes.axvline(50, color="tab:red", linestyle="--", label="target 50%")
    axes.set(xlabel="% of the fp32 matmul GFLOP/s (same threads)",
             title="Forward passes against the matmul rate")  # fmt: skip
    axes.tick_params(axis="y", labelsize=7)
    axes.legend(fontsize=7)
    return save(fig, "forward_hardware")


if __name__ == "__main__":
    sys.exit(main())
