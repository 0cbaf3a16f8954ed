"""The Grafana dashboard's panels from a real run, without Grafana: the local stack (two replicas,
nginx, Prometheus; deploy/stack.py) takes phases of traffic through nginx, then every dashboard
query runs over Prometheus's HTTP API (query_range) and is plotted, one subplot per panel.

Run: .venv/bin/python deploy/plot_dashboard.py [--out docs/dashboard.png]
Needs Debian's nginx and prometheus (`apt-get install nginx prometheus`); about 1.5 minutes on
a 2-core CPU. Prints what was sent and answered, and what Prometheus counted.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from deploy.dashboard import Query, load_queries  # noqa: E402
from deploy.stack import LocalStack, StackConfig, scalar, send_burst  # noqa: E402
from service.data.synth import SynthConfig, generate_scene  # noqa: E402

# (requests, concurrent clients, pause after in s): light, overload (queue_full 503s), medium
PHASES = ((24, 2, 6.0), (90, 24, 6.0), (40, 6, 8.0))
RATE_INTERVAL = "8s"  # 4 scrapes at 2 s, as Grafana's $__rate_interval would be
UNIT_SCALE = {"s": (1e3, "ms"), "reqps": (1.0, "requests/s"), "ops": (1.0, "per s")}


def scenes(count: int, seed: int) -> list[bytes]:
    """Generated 320x240 scenes of 1-4 people, PNG-encoded."""
    rng = np.random.default_rng(seed)
    config = SynthConfig(min_people=1, max_people=4, min_height=0.4)
    out = []
    for _ in range(count):
        image = generate_scene(rng, 320, 240, config).image  # (H, W, 3) RGB
        out.append(cv2.imencode(".png", np.ascontiguousarray(image[:, :, ::-1]))[1].tobytes())
    return out


def drive(stack: LocalStack, bodies: list[bytes]) -> Counter[int]:
    """Sends the phases through nginx; the status codes seen."""
    statuses: Counter[int] = Counter()
    url = f"{stack.nginx_url}/v1/poses"
    for i, (count, clients, pause_s) in enumerate(PHASES):
        per_body = max(count // len(bodies), 1)
        for body in bodies:
            statuses.update(send_burst(url, body, per_body, clients))
        print(f"phase {i + 1}: {per_body * len(bodies)} requests, {clients} clients -> "
              f"{dict(statuses)}", flush=True)  # fmt: skip
        time.sleep(pause_s)
    return statuses


def legend(template: str, labels: dict[str, str]) -> str:
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), "?"), template)


def plot_panel(ax: Any, title: str, queries: list[Query], series: list[list[Any]], t0: float,
               ) -> None:  # fmt: skip
    scale, unit = UNIT_SCALE.get(queries[0].unit, (1.0, ""))
    for query, result in zip(queries, series, strict=True):
        for r in result:
            t = np.array([float(v[0]) for v in r["values"]]) - t0
            y = np.array([float(v[1]) for v in r["values"]]) * scale
            ax.plot(t, y, lw=1.4, label=legend(query.legend, r["metric"]) or query.ref)
    ax.set_title(title, fontsize=9)
    ax.set_ylabel(unit, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, loc="upper right", ncol=2)


def plot(stack: LocalStack, start: float, end: float, out: Path) -> None:
    """Every panel of the dashboard over [start, end], from Prometheus's query_range."""
    panels: dict[str, list[Query]] = {}
    for query in load_queries():
        panels.setdefault(query.panel, []).append(query)
    cols = 3
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(15, 3.2 * rows), squeeze=False)
    for ax, (title, queries) in zip(axes.flat, panels.items(), strict=False):
        series = [stack.query_range(q.promql(RATE_INTERVAL), start, end, 1.0) for q in queries]
        plot_panel(ax, title, queries, series, start)
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("seconds", fontsize=8)
    fig.suptitle("boxpose dashboard: 2 replicas behind nginx, scraped by Prometheus "
                 f"(rate window {RATE_INTERVAL})", fontsize=11)  # fmt: skip
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    print(f"wrote {out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/dashboard.png"))
    parser.add_argument("--queue-size", type=int, default=4, help="per replica (small: 503s)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    env = {"BOXPOSE_POSE_MODEL": "pose-lite", "BOXPOSE_DETECTOR_MODEL": "detector-lite",
           "BOXPOSE_QUEUE_SIZE": str(args.queue_size),
           "BOXPOSE_MAX_BATCH_SIZE": "4"}  # fmt: skip
    bodies = scenes(6, args.seed)
    with tempfile.TemporaryDirectory(prefix="boxpose-stack-") as work:
        config = StackConfig(replicas=2, env=env, scrape_interval_s=2.0)
        with LocalStack(Path(work), config) as stack:
            start = time.time()
            statuses = drive(stack, bodies)
            sent = sum(statuses.values())
            counted = scalar(stack.wait_until(
                'sum(boxpose_http_requests_total{route="/v1/poses"})',
                lambda r: scalar(r) == sent, 15))  # fmt: skip
            print(f"sent {sent}, answered {dict(statuses)}; Prometheus counted {counted:.0f}")
            plot(stack, start - 4, time.time(), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
