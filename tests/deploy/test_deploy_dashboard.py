"""The Grafana dashboard: every query parses, the panels the issue asks for are there, and every
metric name a query reads is one the running service (bundled models) really exports."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from deploy_helpers import ROOT, scene_png

from deploy.dashboard import Query, exported_names, load_queries, metric_names, unknown_names
from deploy.stack import free_port
from service.api.app import create_app
from service.config import Settings

# metric a panel must read -> the panel topic the issue names
REQUIRED = {
    "boxpose_http_requests_total": "request rate by status",
    "boxpose_http_request_duration_seconds_bucket": "latency p50/p95/p99",
    "boxpose_queue_wait_seconds_bucket": "queue wait",
    "boxpose_batch_size_bucket": "batch size",
    "boxpose_queue_depth": "queue depth",
    "boxpose_rejections_total": "rejections by reason",
    "boxpose_persons_per_image_bucket": "persons per image",
    "boxpose_stage_duration_seconds_bucket": "stage times",
}


@pytest.fixture(scope="module")
def scraped() -> Iterator[str]:
    """/metrics of the real app (bundled models, uvicorn on a loopback port) after one pose
    request."""
    # No warm-up, so a generous deadline: on a busy 2-core machine the cold first run is slow.
    settings = Settings(device="cpu", pose_model="pose-lite", detector_model="detector-lite",
                        model_store=ROOT / "model_store", warmup=False,
                        deadline_s=120.0)  # fmt: skip
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _ready(url):
            assert time.monotonic() < deadline and thread.is_alive(), "the service did not start"
            time.sleep(0.05)
        answer = httpx.post(f"{url}/v1/poses", content=scene_png(), timeout=130,
                            headers={"Content-Type": "image/png"})  # fmt: skip
        assert answer.status_code == 200, answer.text
        yield httpx.get(f"{url}/metrics").text
    finally:
        server.should_exit = True
        thread.join(30)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_every_query_parses_and_reads_named_metrics() -> None:
    queries = load_queries()
    assert len(queries) >= 10
    for query in queries:
        assert metric_names(query.promql()), query  # raises on a syntax error
    with pytest.raises(ValueError):
        metric_names("sum(rate(boxpose_http_requests_total[5m])")  # unbalanced: refused


def test_panels_cover_what_operators_need() -> None:
    read = set().union(*(metric_names(q.promql()) for q in load_queries()))
    assert {m: topic for m, topic in REQUIRED.items() if m not in read} == {}
    latency = [q.expr for q in load_queries() if "request_duration" in q.expr]
    assert {q.split(",")[0] for q in latency} == {f"histogram_quantile({x}" for x in
                                                  ("0.5", "0.95", "0.99")}  # fmt: skip
    status = [q for q in load_queries() if "boxpose_http_requests_total" in q.expr]
    assert any("by (status)" in q.expr for q in status)


def test_dashboard_reads_only_metrics_the_service_exports(scraped: str) -> None:
    exported = exported_names(scraped)
    assert "boxpose_http_requests_total" in exported  # the scrape saw the request
    assert unknown_names(load_queries(), exported) == {}
    # The check does fail on a name the service does not export.
    bogus = [Query(panel="x", ref="A", expr="rate(boxpose_nope_total[1m])", legend="", unit="")]
    assert unknown_names(bogus, exported) == {"x / A": {"boxpose_nope_total"}}
