"""Replicas of `boxpose serve` on loopback ports -> Debian's nginx in front as the load balancer
-> Debian's Prometheus scraping every replica: the shape of `k8s/` on one machine, with real
processes (used by tests/deploy/test_scaleout.py and deploy/plot_dashboard.py).

Every process runs in the foreground, in its own session, with its configuration, logs, pid and
data under one work directory; `LocalStack.stop` ends them all (SIGTERM, then SIGKILL after a
bound). Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

TOOLS = ("nginx", "prometheus")
JOB = "boxpose"

NGINX_CONF = """\
daemon off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 512; }}
http {{
    log_format upstream '$status $upstream_addr $request_method $uri';
    access_log {work}/nginx-access.log upstream;
    client_body_temp_path {work}/nginx-body;
    proxy_temp_path {work}/nginx-proxy;
    fastcgi_temp_path {work}/nginx-fastcgi;
    uwsgi_temp_path {work}/nginx-uwsgi;
    scgi_temp_path {work}/nginx-scgi;
    # Bodies stay in memory: the workers may run as another user than the work directory's.
    client_max_body_size 20m;
    client_body_buffer_size 20m;
    upstream boxpose {{
{servers}
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        location = /nginx-ready {{ return 200 "ready\\n"; }}
        location / {{
            proxy_pass http://boxpose;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_read_timeout 60s;
        }}
    }}
}}
"""

PROMETHEUS_CONF = """\
global:
  scrape_interval: {interval}
  scrape_timeout: {interval}
  evaluation_interval: {interval}
scrape_configs:
  - job_name: {job}
    static_configs:
      - targets: [{targets}]
"""


@dataclass(frozen=True)
class StackConfig:
    replicas: int = 2
    env: dict[str, str] = field(default_factory=dict)  # extra BOXPOSE_* for every replica
    scrape_interval_s: float = 0.5
    threads: int = 1  # OMP_NUM_THREADS per replica
    start_timeout_s: float = 90.0


def find_tool(name: str) -> str | None:
    """The binary's path; Debian puts nginx in /usr/sbin, off a normal user's PATH."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")


def missing_tools() -> list[str]:
    return [name for name in TOOLS if find_tool(name) is None]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    """A child in its own session (so its whole group can be signalled), output to a log."""

    def __init__(self, name: str, argv: Sequence[str], log: Path, env: dict[str, str]) -> None:
        self.name, self.log = name, log
        with log.open("wb") as out:
            self.popen = subprocess.Popen(
                list(argv), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, start_new_session=True,
            )  # fmt: skip

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout_s: float = 15.0) -> int | None:
        """SIGTERM to the group, SIGKILL after `timeout_s`; the exit code."""
        for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
            if not self.alive():
                break
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.popen.wait(wait_s)
            except subprocess.TimeoutExpired:
                continue
        return self.popen.poll()

    def tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def wait_http(url: str, process: Process, deadline: float) -> None:
    """Until `url` answers 200; raises with the process's log when it dies or time runs out."""
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"{process.name} exited ({process.popen.returncode}):\n"
                               f"{process.tail()}")  # fmt: skip
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{process.name}: {url} not ready in time:\n{process.tail()}")


def replica_command() -> list[str]:
    """`boxpose serve` from the running interpreter's environment."""
    script = Path(sys.executable).with_name("boxpose")
    if script.exists():
        return [str(script), "serve"]
    return [sys.executable, "-m", "service.cli", "serve"]


class LocalStack:
    """`replicas` service processes, nginx balancing them, Prometheus scraping them."""

    def __init__(self, work: Path, config: StackConfig | None = None) -> None:
        self.work, self.config = work, config or StackConfig()
        self.ports = [free_port() for _ in range(self.config.replicas)]
        self.nginx_port, self.prometheus_port = free_port(), free_port()
        self.processes: list[Process] = []

    @property
    def replica_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    @property
    def nginx_url(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.prometheus_port}"

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalStack:
        """Starts everything and waits until it is ready; stops what it started on failure."""
        missing = missing_tools()
        if missing:
            raise RuntimeError(f"not installed: {', '.join(missing)}")
        deadline = time.monotonic() + self.config.start_timeout_s
        try:
            replicas = [self._start_replica(i, port) for i, port in enumerate(self.ports)]
            nginx, prometheus = self._start_nginx(), self._start_prometheus()
            for url, process in zip(self.replica_urls, replicas, strict=True):
                wait_http(f"{url}/readyz", process, deadline)
            wait_http(f"{self.nginx_url}/nginx-ready", nginx, deadline)
            wait_http(f"{self.prometheus_url}/-/ready", prometheus, deadline)
            up = f'sum(up{{job="{JOB}"}})'  # every replica scraped once
            result = self.wait_until(up, lambda r: scalar(r) == len(self.ports),
                                     deadline - time.monotonic())  # fmt: skip
            if scalar(result) != len(self.ports):
                raise TimeoutError(f"Prometheus: {up} = {result}:\n{prometheus.tail()}")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> dict[str, int | None]:
        """Ends every process, the last started first; their exit codes by name."""
        codes = {p.name: p.stop() for p in reversed(self.processes)}
        self.processes.clear()
        return codes

    def _spawn(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> Process:
        process = Process(name, argv, self.work / f"{name}.log", env or dict(os.environ))
        self.processes.append(process)
        return process

    def _start_replica(self, index: int, port: int) -> Process:
        env = {**os.environ, "BOXPOSE_HOST": "127.0.0.1", "BOXPOSE_PORT": str(port),
               "BOXPOSE_DEVICE": "cpu", "OMP_NUM_THREADS": str(self.config.threads),
               **self.config.env}  # fmt: skip
        return self._spawn(f"replica-{index}", [*replica_command(), "--log-level", "warning"], env)

    def _start_nginx(self) -> Process:
        servers = "\n".join(f"        server 127.0.0.1:{port};" for port in self.ports)
        conf = self.work / "nginx.conf"
        conf.write_text(NGINX_CONF.format(work=self.work, servers=servers, port=self.nginx_port))
        nginx = str(find_tool("nginx"))
        argv = [nginx, "-p", str(self.work), "-e", str(self.work / "nginx-error.log"), "-c",
                str(conf)]  # fmt: skip
        return self._spawn("nginx", argv)

    def _start_prometheus(self) -> Process:
        interval = f"{int(self.config.scrape_interval_s * 1000)}ms"
        targets = ", ".join(f'"127.0.0.1:{port}"' for port in self.ports)
        conf = self.work / "prometheus.yml"
        conf.write_text(PROMETHEUS_CONF.format(interval=interval, job=JOB, targets=targets))
        argv = [str(find_tool("prometheus")), f"--config.file={conf}",
                f"--storage.tsdb.path={self.work / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{self.prometheus_port}",
                "--storage.tsdb.retention.time=1h", "--log.level=warn"]  # fmt: skip
        return self._spawn("prometheus", argv)

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        """An instant query over Prometheus's HTTP API: the result vector."""
        params = {"query": promql, **({"time": f"{at:.3f}"} if at is not None else {})}
        return _api(f"{self.prometheus_url}/api/v1/query", params)

    def query_range(
        self, promql: str, start: float, end: float, step_s: float
    ) -> list[dict[str, Any]]:
        """A range query: one `values` list of [unix time, "value"] per series."""
        params = {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}",
                  "step": f"{step_s:g}"}  # fmt: skip
        return _api(f"{self.prometheus_url}/api/v1/query_range", params)

    def wait_until(
        self, promql: str, done: Callable[[list[dict[str, Any]]], bool], timeout_s: float
    ) -> list[dict[str, Any]]:
        """Polls an instant query until `done(result)`; the last result either way."""
        deadline = time.monotonic() + max(timeout_s, 0.0)
        while True:
            result = self.query(promql)
            if done(result) or time.monotonic() >= deadline:
                return result
            time.sleep(0.2)

    def upstream_counts(self, uri: str) -> Counter[str]:
        """Requests to `uri` by the upstream nginx sent them to ("127.0.0.1:PORT"), from its log."""
        log = self.work / "nginx-access.log"
        counts: Counter[str] = Counter()
        for line in log.read_text().splitlines():
            _, upstream, _, path = line.split(" ", 3)
            if path == uri:
                counts[upstream] += 1
        return counts


def _api(url: str, params: dict[str, str]) -> list[dict[str, Any]]:
    response = httpx.get(url, params=params, timeout=10.0)
    body = response.json()
    if response.status_code != 200 or body.get("status") != "success":
        raise RuntimeError(f"Prometheus {url} {params['query']!r}: {response.status_code} {body}")
    return list(body["data"]["result"])


def scalar(result: list[dict[str, Any]]) -> float:
    """The value of a one-sample instant vector (NaN when empty)."""
    return float(result[0]["value"][1]) if len(result) == 1 else float("nan")


def send_burst(
    url: str, body: bytes, count: int, concurrency: int, content_type: str = "image/png"
) -> list[int]:
    """POSTs `body` `count` times from `concurrency` threads; the status codes (0: no answer)."""

    headers = {"Content-Type": content_type}

    def one(client: httpx.Client) -> int:
        try:
            return client.post(url, content=body, headers=headers).status_code
        except httpx.HTTPError:
            return 0

    with httpx.Client(timeout=60.0) as client, ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(lambda _: one(client), range(count)))
