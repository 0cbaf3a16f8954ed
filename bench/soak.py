"""Soak: a live `boxpose serve` (the default model, CPU) under mixed traffic for `--minutes`,
sampling the server process's RSS, open file descriptors and threads.

Clients run side by side until the deadline: photos (POST /v1/poses), whole videos (POST
/v1/poses:video read to the summary), videos dropped after a few lines (the client closes the
connection), WebSocket streams (a fast sender; closed normally once the last frame is answered),
streams that vanish (the TCP connection aborted, no close frame) and malformed requests (junk
video, an image sent as a video, junk image, a text WebSocket message). Every request is counted
as answered, refused with a reason (an error JSON body, an error line or a WebSocket close code
with its reason), deliberately abandoned, or failed (none expected). Growth is the median of the
last window (up to 5 minutes) against the median of the window after the warm-up.

    taskset -c 1 nice -n 10 .venv/bin/python bench/soak.py --minutes 30 --out runs/soak/soak.json
    .venv/bin/python bench/soak.py --report runs/soak/soak.json --write   # BENCHMARKS.md "Soak"
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import machine  # noqa: E402
from bench.report import write_section  # noqa: E402
from bench.server import Server  # noqa: E402
from bench.soak_clients import Inputs, Tally, run_clients  # noqa: E402

RESOURCES = ("rss_mib", "fds", "threads")


def sample(pid: int) -> dict[str, float]:
    """The server process's VmRSS (MiB), open file descriptors and threads, from /proc."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    status = dict(line.split(":", 1) for line in lines)
    return {"rss_mib": int(status["VmRSS"].split()[0]) / 1024,
            "fds": len(os.listdir(f"/proc/{pid}/fd")),
            "threads": int(status["Threads"])}  # fmt: skip


async def sampler(pid: int, every_s: float, deadline: float, start: float,
                  out: list[dict[str, float]]) -> None:  # fmt: skip
    while True:
        out.append({"t_s": round(time.monotonic() - start, 1), **sample(pid)})
        if time.monotonic() >= deadline:
            return
        await asyncio.sleep(min(every_s, max(deadline - time.monotonic(), 0.0)))


async def soak(server: Server, minutes: float, every_s: float) -> dict[str, Any]:
    assert server.process is not None
    start = time.monotonic()
    deadline = start + minutes * 60
    samples: list[dict[str, float]] = []
    tally = Tally()
    sampling = asyncio.create_task(sampler(server.process.pid, every_s, deadline, start, samples))
    await run_clients(server.url, Inputs.make(), deadline, tally)
    await sampling
    await asyncio.sleep(3.0)  # the vanished clients' work winds down
    after = {"t_s": round(time.monotonic() - start, 1), **sample(server.process.pid)}
    metrics = server.metrics()
    open_streams = {k: v for k, v in metrics.items() if k.startswith("boxpose_open_streams")}
    return {"samples": samples, "after_traffic": after, "tally": tally.as_dict(),
            "open_streams_after": open_streams,
            "wall_s": round(time.monotonic() - start, 1)}  # fmt: skip


def growth(samples: list[dict[str, float]], warmup_s: float) -> dict:
    """Per resource: the median of a window after the warm-up and of the last window (a quarter
    of the time after the warm-up, between 1 and 5 minutes), their growth in percent, and the
    largest value after the warm-up."""
    end = samples[-1]["t_s"]
    window_s = min(300.0, max(60.0, (end - warmup_s) / 4))
    out = {}
    for name in RESOURCES:
        early = [s[name] for s in samples if warmup_s <= s["t_s"] <= warmup_s + window_s]
        late = [s[name] for s in samples if s["t_s"] >= end - window_s]
        after = [s[name] for s in samples if s["t_s"] >= warmup_s]
        base, last = statistics.median(early), statistics.median(late)
        out[name] = {"after_warmup": round(base, 1), "end": round(last, 1),
                     "growth_pct": round(100 * (last / base - 1), 2),
                     "max": round(max(after), 1)}  # fmt: skip
    return out


def markdown(result: dict[str, Any]) -> str:
    g, t, first = result["growth"], result["tally"], result["samples"][0]
    rows = "\n".join(f"| {name} | {v['after_warmup']} | {v['end']} | {v['growth_pct']:+.2f}% | "
                     f"{v['max']} |" for name, v in g.items())  # fmt: skip
    answered = ", ".join(f"{k} {v}" for k, v in sorted(t["answered"].items()))
    refused = ", ".join(f"{k}: {v}" for k, v in sorted(t["refused"].items())) or "none"
    vanished = ", ".join(f"{k} {v}" for k, v in sorted(t["vanished"].items()))
    failed = f"{len(t['failed'])}" + (f" ({'; '.join(t['failed'][:5])})" if t["failed"] else "")
    verdict = "holds" if max(v["growth_pct"] for v in g.values()) <= 5 else "does NOT hold"
    return f"""## Soak: RSS, file descriptors and threads under mixed traffic

Command: `{result["command"]}`

{result["machine"]}. One `boxpose serve` (the default model, CPU, 1 thread, engine
{result.get("engine", "auto")}) on loopback, for
{result["minutes"]} minutes of photos, whole videos, videos dropped mid-answer, WebSocket
streams, streams whose TCP connection is aborted and malformed requests, all at once; the server
process sampled every {result["every_s"]} s. Warm-up: the first {result["warmup_minutes"]} min.

| resource | median, window after warm-up | median, last window | growth | max after warm-up |
|---|---:|---:|---:|---:|
{rows}

The 5% bound {verdict}. Requests: answered: {answered}; refused with a reason: {refused};
abandoned by the client on purpose: {vanished}; failed (no answer, no reason): {failed}.
Open streams once traffic stopped: {result["open_streams_after"]}; 3 s after the last client:
RSS {result["after_traffic"]["rss_mib"]:.1f} MiB, {result["after_traffic"]["fds"]} fds,
{result["after_traffic"]["threads"]} threads; before the first (the first sample, idle):
{first["fds"]} fds, {first["threads"]} threads. Descriptors in use while clients are connected
rise and fall with the sockets in flight; what a leak would leave is the idle count.
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--warmup-minutes", type=float, default=None, help="default: a sixth, <= 5")
    ap.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--engine", default="auto", help="BOXPOSE_ENGINE: auto, torchscript or "
                    "onnxruntime (auto on a CPU: ONNX Runtime for the default model)")  # fmt: skip
    ap.add_argument("--out", type=Path, default=Path("runs/soak/soak.json"))
    ap.add_argument("--report", type=Path, help="print (and --write) a saved result; no run")
    ap.add_argument("--write", action="store_true", help="write BENCHMARKS.md's Soak section")
    args = ap.parse_args()
    result = report(args.report, args.warmup_minutes) if args.report else run(args)
    print(markdown(result))
    if args.write:
        write_section("soak", markdown(result))
    return 0 if not result["tally"]["failed"] else 1


def report(path: Path, warmup_minutes: float | None) -> dict[str, Any]:
    """A saved result, its growth figures computed again from its samples (after another
    warm-up, if given)."""
    result = json.loads(path.read_text())
    if warmup_minutes is not None:
        result["warmup_minutes"] = warmup_minutes
    result["growth"] = growth(result["samples"], result["warmup_minutes"] * 60)
    return dict(result)


def run(args: argparse.Namespace) -> dict[str, Any]:
    warmup = args.warmup_minutes if args.warmup_minutes is not None else min(5.0, args.minutes / 6)
    server = Server({"BOXPOSE_DEVICE": "cpu", "BOXPOSE_ENGINE": args.engine}, args.threads).start()
    try:
        result = asyncio.run(soak(server, args.minutes, args.every))
    finally:
        server.stop()
    result.update(minutes=args.minutes, warmup_minutes=round(warmup, 2), every_s=args.every,
                  engine=args.engine,
                  machine=machine(args.threads), growth=growth(result["samples"], warmup * 60),
                  command="taskset -c 1 nice -n 10 .venv/bin/python bench/soak.py --minutes "
                  f"{args.minutes:g} --engine {args.engine} --out {args.out}")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    sys.exit(main())
