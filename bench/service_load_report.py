"""The markdown section and the latency-throughput plot of `bench/service_load.py`."""

from __future__ import annotations

import argparse

from bench.common import median, new_figure, save, shell_arg

MODES = ("batching on", "batching off")


def report(ref: dict[str, list[float]], results: dict, args: argparse.Namespace, host: str,
           note: str) -> str:  # fmt: skip
    inproc = 1000 * median(ref["in-process"])
    lines = [
        "## The service under load", "",
        f"Command: `.venv/bin/python bench/service_load.py --pose {args.pose} --detector "
        f"{shell_arg(args.detector)} --levels {args.levels} --requests {args.requests} "
        f"--rounds {args.rounds} --reference {args.reference} --size {args.size} "
        f"--threads {args.threads} --deadline-s {args.deadline_s:g}`", "",
        f"{host}. Two `boxpose serve` processes on 127.0.0.1 (batching on: "
        "`BOXPOSE_MAX_BATCH_SIZE=8`, the GPU default; off: 1, the CPU default since the "
        "measurements below), each with the same torch threads and "
        f"`BOXPOSE_DEADLINE_S={args.deadline_s:g}` (capacity is measured, not the deadline); an "
        f"asyncio httpx client, raw JPEG POST /v1/poses, generated {args.size} photos of 2-5 "
        f"people; per level max({args.requests}, 2 x concurrency) requests after a warm-up of "
        "one per connection, the two servers taking turns. Latency is the client's; queue "
        "wait is each answer's `timings_ms.queue`; batch sizes from /metrics.", "",
        "**Reference, concurrency 1** (in-process = decode + `Pipeline.predict` + JSON in the "
        f"benchmark's process, alternated with one request to each server, {args.reference} "
        "times, medians):", "",
        "| system | median ms | over in-process |", "|---|---:|---:|",
        f"| in-process | {inproc:.0f} | - |",
    ]
    for mode in MODES:
        ms = 1000 * median(ref[mode])
        lines.append(f"| HTTP, {mode} | {ms:.0f} | {100 * (ms / inproc - 1):+.1f}% |")
    lines += [
        "", "| mode | concurrency | ok / errors | req/s | x in-process | p50 ms | p95 ms | p99 ms "
        "| queue p50 ms | queue p95 ms | mean batch | largest batch <= |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (mode, c), r in sorted(results.items(), key=lambda kv: (kv[0][0] != MODES[0], kv[0][1])):
        lines.append(
            f"| {mode} | {c} | {r['ok']:.0f} / {r['errors']:.0f} | {r['throughput']:.2f} | "
            f"{r['throughput'] * inproc / 1000:.2f} | {r['p50']:.0f} | {r['p95']:.0f} | "
            f"{r['p99']:.0f} | {r['queue_p50']:.0f} | {r['queue_p95']:.0f} | "
            f"{r['mean_batch']:.2f} | {r['max_batch']:.0f} |")
    lines += ["", *verdicts(ref, results), "", plot(results, inproc), "", note]
    return "\n".join(lines)


def verdicts(ref: dict[str, list[float]], results: dict) -> list[str]:
    inproc = median(ref["in-process"])
    over = median(ref["batching on"]) / inproc - 1
    out = [f"- HTTP + queue over in-process at concurrency 1 (batching on): **{100 * over:+.1f}%** "
           f"({'meets' if over <= 0.10 else 'misses'} the <= 10% target)."]
    on, off = results.get(("batching on", 8)), results.get(("batching off", 8))
    if on and off and off["throughput"]:
        gain = on["throughput"] / off["throughput"]
        out.append(f"- batching on / off at concurrency 8: **{gain:.2f}x** throughput "
                   f"({'meets' if gain >= 1.3 else 'misses'} the >= 1.3x target); mean batch "
                   f"{on['mean_batch']:.2f} vs {off['mean_batch']:.2f}.")
    return out


def plot(results: dict, inproc_ms: float) -> str:
    fig, axes = new_figure(6.0, 3.6)
    for mode, colour in zip(MODES, ("tab:blue", "tab:orange"), strict=True):
        chosen = sorted((c, r) for (m, c), r in results.items() if m == mode)
        x = [r["throughput"] for _, r in chosen]
        axes.plot(x, [r["p50"] for _, r in chosen], "-o", color=colour, markersize=3,
                  label=f"{mode}, p50")  # fmt: skip
        axes.plot(x, [r["p95"] for _, r in chosen], "--", color=colour, label=f"{mode}, p95")
        for c, r in chosen:
            axes.annotate(f"c={c}", (r["throughput"], r["p50"]), fontsize=6,
                          textcoords="offset points", xytext=(3, 3))  # fmt: skip
    axes.axvline(1000 / inproc_ms, color="grey", linestyle=":", label="in-process, 1 at a time")
    axes.set(xlabel="throughput (requests/s)", ylabel="latency ms", yscale="log",
             title="Latency against throughput (loopback)")  # fmt: skip
    axes.legend(fontsize=6)
    axes.grid(alpha=0.3)
    return save(fig, "service_load")
