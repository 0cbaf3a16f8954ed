"""Memory of the service: resident set size after warm-up and after many requests.

One `boxpose serve` process (default settings, the given models) on loopback; small generated
photos of a few sizes (so that several input shapes are seen), every other request with client
boxes; `--concurrency` requests in flight. RSS (VmRSS of the server process) after the warm-up
requests, then every `--every` requests up to `--requests`. Bounded: a fixed count of requests.

Run: `.venv/bin/python bench/memory.py [--requests 10000] [--warmup 300] [--every 1000]
[--concurrency 4] [--threads 1]`. Writes its BENCHMARKS.md section and bench/plots/memory.png.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import SHARED_NOTE, machine, new_figure, save, shell_arg  # noqa: E402
from bench.report import write_section  # noqa: E402
from bench.server import Payload, Server, run_load  # noqa: E402
from service.data.synth.scene import SynthConfig, generate_scene  # noqa: E402

SIZES = ((96, 72), (128, 96), (160, 120), (120, 160))  # (W, H) small photos


def payloads() -> list[Payload]:
    """Each size with and without client boxes (the true ones)."""
    out = []
    for seed, (width, height) in enumerate(SIZES):
        config = SynthConfig(min_people=1, max_people=3, min_height=0.4, max_height=0.9)
        scene = generate_scene(np.random.default_rng(900 + seed), width, height, config)
        buffer = io.BytesIO()
        Image.fromarray(scene.image).save(buffer, format="JPEG", quality=90)
        boxes = [[float(v) for v in b] for b in scene.boxes if b[2] > b[0] and b[3] > b[1]]
        out.append(Payload(buffer.getvalue()))
        out.append(Payload(buffer.getvalue(), json.dumps(boxes) if boxes else None))
    return out


def soak(server: Server, args: argparse.Namespace) -> tuple[list[tuple[int, float]], dict]:
    """-> [(requests so far, RSS MiB)], counts of statuses and the wall time."""
    items = payloads()
    run_load(server.url, items, args.concurrency, args.warmup)
    points = [(0, server.rss_mib())]
    statuses: dict[int, int] = {}
    start = time.perf_counter()
    done = 0
    while done < args.requests:
        chunk = min(args.every, args.requests - done)
        replies, _ = run_load(server.url, items, args.concurrency, chunk)
        for r in replies:
            statuses[r.status] = statuses.get(r.status, 0) + 1
        done += chunk
        points.append((done, server.rss_mib()))
        print(f"{done} requests: RSS {points[-1][1]:.1f} MiB", flush=True)
    return points, {"statuses": statuses, "wall_s": time.perf_counter() - start}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    # the bottom-up pose-lite + detector-lite (the published figures), not the served default
    ap.add_argument("--pose", default="pose-lite")
    ap.add_argument("--detector", default="detector-lite", help="'' = none")
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--every", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    host = machine(args.threads)
    env = {"BOXPOSE_POSE_MODEL": args.pose, "BOXPOSE_DETECTOR_MODEL": args.detector}
    server = Server(env, args.threads).start()
    try:
        points, info = soak(server, args)
    finally:
        server.stop()
    text = report(points, info, args, host)
    print(text)
    if not args.no_write:
        write_section("memory", text)
    return 0


def report(points: list[tuple[int, float]], info: dict, args: argparse.Namespace,
           host: str) -> str:  # fmt: skip
    warm, last = points[0][1], points[-1][1]
    growth = last / warm - 1
    peak = max(rss for _, rss in points)
    statuses = ", ".join(f"{n} x {code}" for code, n in sorted(info["statuses"].items()))
    lines = [
        "## Memory", "",
        f"Command: `.venv/bin/python bench/memory.py --pose {args.pose} --detector "
        f"{shell_arg(args.detector)} --requests {args.requests} --warmup {args.warmup} --every "
        f"{args.every} --concurrency {args.concurrency} --threads {args.threads}`", "",
        f"{host}. One `boxpose serve` on 127.0.0.1 (default batching), {args.concurrency} "
        f"requests in flight; generated photos of {len(SIZES)} small sizes "
        f"({', '.join(f'{w}x{h}' for w, h in SIZES)}), every other one with client boxes. "
        f"RSS = VmRSS of the server process after {args.warmup} warm-up requests, then every "
        f"{args.every}.", "",
        "| requests after warm-up | RSS MiB |", "|---:|---:|",
        *(f"| {n} | {rss:.1f} |" for n, rss in points),
        "",
        f"- {args.requests} requests in **{info['wall_s']:.0f} s** wall "
        f"({args.requests / info['wall_s']:.1f} req/s); answers: {statuses}.",
        f"- RSS after warm-up {warm:.1f} MiB, after {args.requests} requests {last:.1f} MiB "
        f"(peak {peak:.1f}): growth **{100 * growth:+.2f}%** "
        f"({'meets' if growth <= 0.05 else 'misses'} the <= 5% target).",
        "", plot(points), "", SHARED_NOTE,
    ]
    return "\n".join(lines)


def plot(points: list[tuple[int, float]]) -> str:
    fig, axes = new_figure(5.0, 3.0)
    axes.plot([n for n, _ in points], [rss for _, rss in points], "-o", markersize=3)
    axes.set(xlabel="requests after warm-up", ylabel="server RSS MiB",
             title="Server memory over a soak")  # fmt: skip
    low = min(rss for _, rss in points)
    axes.set_ylim(low * 0.9, max(rss for _, rss in points) * 1.1)
    axes.grid(alpha=0.3)
    return save(fig, "memory")


if __name__ == "__main__":
    sys.exit(main())
