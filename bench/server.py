"""A `boxpose serve` subprocess on loopback for the load and memory benchmarks, and a small
asyncio client (httpx) that keeps `concurrency` requests in flight until `total` are done.

Traffic goes only to 127.0.0.1 on a port chosen free; every loop is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """One `boxpose serve` process; `env` holds its BOXPOSE_* settings."""

    env: dict[str, str]
    threads: int = 1
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 300.0) -> Server:
        env = {**os.environ, **self.env, "BOXPOSE_HOST": "127.0.0.1",
               "BOXPOSE_PORT": str(self.port), "OMP_NUM_THREADS": str(self.threads),
               "MKL_NUM_THREADS": str(self.threads)}  # fmt: skip
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"server not ready after {timeout_s} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def rss_mib(self) -> float:
        """The server process's resident set size (VmRSS), MiB."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def metrics(self) -> dict[str, float]:
        """Scrape /metrics -> {sample name + labels: value} (histogram sums, counts, buckets)."""
        text = httpx.get(f"{self.url}/metrics", timeout=10.0).text
        out: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                out[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
        return out


@dataclass(frozen=True)
class Reply:
    status: int
    latency_s: float  # client-side, send to full body
    queue_ms: float  # the server's own timings_ms.queue (nan when absent)
    persons: int


@dataclass(frozen=True)
class Payload:
    body: bytes  # a JPEG
    boxes: str | None = None  # JSON [[x1, y1, x2, y2], ...] for the query string


async def _one(client: httpx.AsyncClient, url: str, payload: Payload) -> Reply:
    params = {"boxes": payload.boxes} if payload.boxes else None
    start = time.perf_counter()
    response = await client.post(url, content=payload.body, params=params,
                                 headers={"content-type": "image/jpeg"})  # fmt: skip
    latency = time.perf_counter() - start
    queue, persons = float("nan"), 0
    if response.status_code == 200:
        data = json.loads(response.content)
        queue = float(data.get("timings_ms", {}).get("queue", float("nan")))
        persons = len(data.get("persons", []))
    return Reply(response.status_code, latency, queue, persons)


async def _load(base: str, payloads: Sequence[Payload], concurrency: int, total: int,
                timeout_s: float) -> tuple[list[Reply], float]:  # fmt: skip
    url = f"{base}/v1/poses"
    replies: list[Reply] = []
    counter = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=timeout_s, limits=limits) as client:

        async def worker() -> None:
            for i in counter:
                replies.append(await _one(client, url, payloads[i % len(payloads)]))

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return replies, time.perf_counter() - start


def run_load(base: str, payloads: Sequence[Payload], concurrency: int, total: int,
             timeout_s: float = 300.0) -> tuple[list[Reply], float]:  # fmt: skip
    """`total` requests, `concurrency` in flight at a time -> (replies, wall seconds)."""
    return asyncio.run(_load(base, payloads, concurrency, total, timeout_s))
