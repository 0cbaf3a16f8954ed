"""A real scale-out on loopback: two `boxpose serve` replicas (bundled models), Debian's nginx in
front balancing them, Debian's Prometheus scraping both (deploy/stack.py). A bounded burst goes
through nginx; every request must be answered, both replicas must have served, and the counts
that nginx's log, each replica's /metrics and Prometheus's HTTP API report must all equal what
was sent. Then the dashboard's queries and the autoscaler's adapter query run on that data.

Bounded: 40 requests, start-up within 90 s, every wait with a deadline; every process is stopped
by the fixture's finalizer (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from deploy_helpers import adapter_query, adapter_rule, scene_png
from prometheus_client.parser import text_string_to_metric_families

from deploy.dashboard import load_queries
from deploy.stack import JOB, LocalStack, StackConfig, missing_tools, scalar, send_burst

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(missing_tools()), reason=f"not installed: {', '.join(missing_tools())}"
                       " (Debian packages nginx and prometheus; .ci/run installs them)"),
]  # fmt: skip

SENT, CONCURRENCY = 40, 8
ROUTE = "/v1/poses"
LABELS = f'route="{ROUTE}",method="POST",status="200"'
COUNT = f"boxpose_http_requests_total{{{LABELS}}}"


@dataclass(frozen=True)
class Burst:
    statuses: list[int]
    seconds: float


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    # A generous deadline: the test counts answers, a busy CI machine must not turn them to 503.
    env = {"BOXPOSE_POSE_MODEL": "pose-lite", "BOXPOSE_DETECTOR_MODEL": "detector-lite",
           "BOXPOSE_DEADLINE_S": "60"}
    config = StackConfig(replicas=2, env=env)
    running = LocalStack(tmp_path_factory.mktemp("stack"), config).start()
    try:
        yield running
    finally:
        codes = running.stop()
        # Each stopped on SIGTERM, none needed SIGKILL. (uvicorn drains, then re-raises the
        # signal: a replica's code is -SIGTERM after a clean shutdown.)
        assert all(code in (0, -signal.SIGTERM) for code in codes.values()), codes


@pytest.fixture(scope="module")
def burst(stack: LocalStack) -> Burst:
    body = scene_png()
    start = time.monotonic()
    statuses = send_burst(f"{stack.nginx_url}{ROUTE}", body, SENT, CONCURRENCY)
    return Burst(statuses, time.monotonic() - start)


def replica_count(url: str) -> int:
    """The replica's own count of answered pose requests, from its /metrics."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    wanted = {"route": ROUTE, "method": "POST", "status": "200"}
    return sum(
        int(sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "boxpose_http_requests_total" and sample.labels == wanted
    )


def test_every_request_answered_and_both_replicas_served(stack: LocalStack, burst: Burst) -> None:
    assert burst.statuses == [200] * SENT
    served = {f"127.0.0.1:{port}": replica_count(url)
              for port, url in zip(stack.ports, stack.replica_urls, strict=True)}  # fmt: skip
    assert sum(served.values()) == SENT
    assert min(served.values()) > 0, served
    # nginx logs a request just after answering it: wait (bounded) for the last lines.
    deadline = time.monotonic() + 5
    while sum(stack.upstream_counts(ROUTE).values()) < SENT and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dict(stack.upstream_counts(ROUTE)) == served


def test_prometheus_counts_what_was_sent(stack: LocalStack, burst: Burst) -> None:
    total = f'sum(boxpose_http_requests_total{{job="{JOB}",{LABELS}}})'
    assert scalar(stack.wait_until(total, lambda r: scalar(r) == SENT, 20)) == SENT
    per_instance = stack.query(f"sum by (instance) ({COUNT})")
    counted = {r["metric"]["instance"]: int(float(r["value"][1])) for r in per_instance}
    assert counted == {
        f"127.0.0.1:{port}": replica_count(url)
        for port, url in zip(stack.ports, stack.replica_urls, strict=True)
    }


def test_dashboard_queries_answer_with_numbers(stack: LocalStack, burst: Burst) -> None:
    stack.wait_until(f"sum({COUNT})", lambda r: scalar(r) == SENT, 20)
    empty, not_finite = [], []
    for query in load_queries():
        result = stack.query(query.promql(rate_interval="30s"))
        values = [float(r["value"][1]) for r in result]
        if not values:
            empty.append(f"{query.panel} / {query.ref}")
        elif not all(math.isfinite(v) for v in values):
            not_finite.append(f"{query.panel} / {query.ref}: {values}")
    assert (empty, not_finite) == ([], [])
    persons = [q for q in load_queries() if "persons" in q.expr and q.legend == "mean"]
    assert scalar(stack.query(persons[0].promql("30s"))) > 0  # the scenes have people in them


def test_autoscaler_query_gives_each_replica_its_queue_depth(
    stack: LocalStack, burst: Burst
) -> None:
    # Here the series carry `instance` where the cluster's carry `pod`.
    query = adapter_query(adapter_rule(), f'job="{JOB}"', "instance")
    result = stack.query(query)
    assert {r["metric"]["instance"] for r in result} == {f"127.0.0.1:{p}" for p in stack.ports}
    assert all(0.0 <= float(r["value"][1]) <= SENT for r in result)
