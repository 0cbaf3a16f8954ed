"""The service under load on loopback, batching on and off, against the same work in-process.

Two `boxpose serve` processes run side by side (batching on: `BOXPOSE_MAX_BATCH_SIZE=8`, the
GPU default, forced here; off: 1, the CPU default), same models and threads; an asyncio httpx client
(`bench/server.py`) keeps 1 / 2 / 4 / 8 / 16 requests in flight (raw JPEG POST /v1/poses), the
two servers taking turns at each level, `--rounds` times. The reference is the same work without
HTTP or queue: decode to the working size, `Pipeline.predict`, JSON, in this process, alternated
with single requests to each server (only one of the three works at a time). Queue wait per
request comes from each answer's `timings_ms.queue`; batch sizes from /metrics
(`boxpose_batch_size`).

Run: `.venv/bin/python bench/service_load.py [--pose pose-lite] [--detector detector-lite]
[--levels 1,2,4,8,16] [--requests 8] [--rounds 1] [--threads 1]`. Writes its BENCHMARKS.md
section and bench/plots/service_load.png.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import SHARED_NOTE, machine, median  # noqa: E402
from bench.report import write_section  # noqa: E402
from bench.server import Payload, Reply, Server, run_load  # noqa: E402
from bench.service_load_report import report  # noqa: E402
from service.config import GPU_MAX_BATCH, Settings  # noqa: E402
from service.data.synth.scene import SynthConfig, generate_scene  # noqa: E402
from service.runtime.factory import load_pipeline  # noqa: E402
from service.runtime.images import decode_image  # noqa: E402
from service.runtime.protocol import PipelineConfig, PoseModel  # noqa: E402
from service.runtime.serialise import pose_dict  # noqa: E402

MODES = ("batching on", "batching off")


def photos(count: int, width: int, height: int) -> list[Payload]:
    """`count` generated scenes (2-5 people) as JPEG quality 90."""
    out = []
    for seed in range(count):
        config = SynthConfig(min_people=2, max_people=5, min_height=0.3, max_height=0.8)
        scene = generate_scene(np.random.default_rng(500 + seed), width, height, config)
        buffer = io.BytesIO()
        Image.fromarray(scene.image).save(buffer, format="JPEG", quality=90)
        out.append(Payload(buffer.getvalue()))
    return out


def in_process(pipeline: PoseModel, payload: Payload, max_pixels: int) -> float:
    """The request's work without HTTP or queue -> wall seconds."""
    start = time.perf_counter()
    image = decode_image(payload.body, max_pixels, pipeline.working_size)
    result = pipeline.predict(image.rgb, size=(image.height, image.width))
    json.dumps({"persons": [pose_dict(p) for p in result.poses]})
    return time.perf_counter() - start


def reference(servers: dict[str, Server], pipeline: PoseModel, payloads: list[Payload],
              repeats: int) -> dict[str, list[float]]:  # fmt: skip
    """Concurrency 1, alternating in-process and each server -> latencies (s) per system."""
    limit = Settings().max_pixels
    out: dict[str, list[float]] = {"in-process": [], **{m: [] for m in servers}}
    for payload in payloads * 2:  # warm-up: TorchScript specialises on new input sizes
        in_process(pipeline, payload, limit)
        for server in servers.values():
            run_load(server.url, [payload], 1, 1)
    for i in range(repeats):
        payload = payloads[i % len(payloads)]
        out["in-process"].append(in_process(pipeline, payload, limit))
        for mode, server in servers.items():
            replies, _ = run_load(server.url, [payload], 1, 1)
            out[mode].append(replies[0].latency_s)
    return out


def level(server: Server, payloads: list[Payload], concurrency: int, total: int) -> dict:
    """One load level -> throughput, latency percentiles, queue wait, batch sizes."""
    before = server.metrics()
    replies, wall = run_load(server.url, payloads, concurrency, total)
    after = server.metrics()
    return summarise(replies, wall, before, after)


def summarise(replies: list[Reply], wall: float, before: dict[str, float],
              after: dict[str, float]) -> dict:  # fmt: skip
    ok = [r for r in replies if r.status == 200]
    lat = np.array([r.latency_s for r in ok]) * 1000
    queue = np.array([r.queue_ms for r in ok if np.isfinite(r.queue_ms)])

    def delta(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    batches = delta("boxpose_batch_size_count")
    # Cumulative buckets: the smallest bound that holds every batch bounds the largest one.
    bounds = [float(k.split("le=")[1].rstrip("}")) for k in after
              if k.startswith("boxpose_batch_size_bucket") and delta(k) >= batches > 0]
    return {
        "ok": len(ok), "errors": len(replies) - len(ok), "wall_s": wall,
        "throughput": len(ok) / wall if wall else 0.0,
        "p50": float(np.percentile(lat, 50)) if len(lat) else float("nan"),
        "p95": float(np.percentile(lat, 95)) if len(lat) else float("nan"),
        "p99": float(np.percentile(lat, 99)) if len(lat) else float("nan"),
        "queue_p50": float(np.percentile(queue, 50)) if len(queue) else float("nan"),
        "queue_p95": float(np.percentile(queue, 95)) if len(queue) else float("nan"),
        "mean_batch": delta("boxpose_batch_size_sum") / batches if batches else float("nan"),
        "max_batch": min(bounds, default=float("nan")),
        "batches": batches,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    # the bottom-up pose-lite + detector-lite (the published figures), not the served default
    ap.add_argument("--pose", default="pose-lite")
    ap.add_argument("--detector", default="detector-lite", help="'' = none")
    ap.add_argument("--levels", default="1,2,4,8,16")
    ap.add_argument("--requests", type=int, default=8, help="per level: max(this, 2 x level)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--reference", type=int, default=8, help="alternated c=1 requests")
    ap.add_argument("--size", default="640x480", help="photo WxH")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--deadline-s", type=float, default=120.0,
                    help="BOXPOSE_DEADLINE_S of both servers: capacity, not the deadline, is "
                    "measured (the default 10 s drops queued jobs on a slow shared machine)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    host = machine(args.threads)
    width, height = (int(v) for v in args.size.split("x"))
    payloads = photos(4, width, height)
    models = {"BOXPOSE_POSE_MODEL": args.pose, "BOXPOSE_DETECTOR_MODEL": args.detector,
              "BOXPOSE_DEADLINE_S": str(args.deadline_s)}
    default_batch = str(GPU_MAX_BATCH)  # the GPU default, forced on this CPU too
    servers = {
        "batching on": Server({**models, "BOXPOSE_MAX_BATCH_SIZE": default_batch}, args.threads),
        "batching off": Server({**models, "BOXPOSE_MAX_BATCH_SIZE": "1"}, args.threads),
    }
    try:
        for server in servers.values():
            server.start()
        pipeline = load_pipeline(args.pose, args.detector or None, config=PipelineConfig())
        pipeline.warmup()
        ref = reference(servers, pipeline, payloads, args.reference)
        print({k: f"{1000 * median(v):.0f} ms" for k, v in ref.items()}, flush=True)
        results = levels(servers, payloads, args)
    finally:
        for server in servers.values():
            server.stop()
    text = report(ref, results, args, host, SHARED_NOTE)
    print(text)
    if not args.no_write:
        write_section("service_load", text)
    return 0


def levels(servers: dict[str, Server], payloads: list[Payload], args: argparse.Namespace) -> dict:
    """{(mode, concurrency): summary}, the two servers taking turns at each level."""
    results: dict[tuple[str, int], list[dict]] = {}
    for round_ in range(args.rounds):
        for concurrency in (int(c) for c in args.levels.split(",")):
            total = max(args.requests, 2 * concurrency)
            order = MODES if round_ % 2 == 0 else MODES[::-1]
            for mode in order:
                run_load(servers[mode].url, payloads, concurrency, concurrency)  # warm the level
                summary = level(servers[mode], payloads, concurrency, total)
                results.setdefault((mode, concurrency), []).append(summary)
                print(f"{mode} c={concurrency}: {summary['throughput']:.2f} req/s, p50 "
                      f"{summary['p50']:.0f} ms, batch {summary['mean_batch']:.2f}", flush=True)
    return {k: _merge(v) for k, v in results.items()}


def _merge(runs: list[dict]) -> dict:
    """Several rounds of one level -> the median of each figure."""
    return {k: median([r[k] for r in runs]) for k in runs[0]}


if __name__ == "__main__":
    sys.exit(main())
