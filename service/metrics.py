"""Every Prometheus collector of the service, defined once, on a registry owned by one app.

Names follow the Prometheus naming guide: `boxpose_` prefix, base units (seconds), `_total` for
counters. A fresh `CollectorRegistry` per `Metrics` keeps several app instances (tests) apart.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64)
PERSON_BUCKETS = (0, 1, 2, 3, 4, 5, 8, 12, 16, 24, 32, 64)

# Why a job never reached the model or its answer was refused.
REJECTION_REASONS = ("queue_full", "deadline", "not_ready", "client_disconnected", "failed")
# Where video frames come from (an uploaded video, a WebSocket stream) and why some are skipped.
VIDEO_SOURCES = ("video", "stream")
DROP_REASONS = ("sampled", "newest_wins")


class Metrics:
    """The service's collectors. `stage` is one of detect, forward, parse."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "boxpose_http_requests", "HTTP requests by route, method and status code.",
            ["route", "method", "status"], registry=r,
        )  # fmt: skip
        self.request_duration = Histogram(
            "boxpose_http_request_duration_seconds", "End-to-end HTTP request latency.",
            ["route"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.queue_wait = Histogram(
            "boxpose_queue_wait_seconds", "Time from a job's arrival to the start of its batch.",
            buckets=STAGE_BUCKETS, registry=r,
        )  # fmt: skip
        self.stage_duration = Histogram(
            "boxpose_stage_duration_seconds",
            "Time per pipeline stage: detect and forward per batch, parse per image.",
            ["stage"], buckets=STAGE_BUCKETS, registry=r,
        )  # fmt: skip
        self.batch_size = Histogram(
            "boxpose_batch_size", "Images per batch run through the models.",
            buckets=BATCH_BUCKETS, registry=r,
        )  # fmt: skip
        self.queue_depth = Gauge("boxpose_queue_depth", "Jobs waiting in the queue.", registry=r)
        self.rejections = Counter(
            "boxpose_rejections", "Jobs refused or dropped, by reason.", ["reason"], registry=r
        )
        self.persons = Histogram(
            "boxpose_persons_per_image", "Persons returned per image.",
            buckets=PERSON_BUCKETS, registry=r,
        )  # fmt: skip
        self.batch_failures = Counter(
            "boxpose_batch_failures", "Batches whose model run raised.", registry=r
        )
        self.model_info = Gauge(
            "boxpose_model_info", "Loaded models (value 1), described by labels.",
            ["name", "version", "kind", "device", "sha256"], registry=r,
        )  # fmt: skip
        self.ready = Gauge("boxpose_ready", "1 when the service is ready to serve.", registry=r)
        self.video_frames = Counter(
            "boxpose_video_frames", "Video and stream frames answered, by source.",
            ["source"], registry=r,
        )  # fmt: skip
        self.open_streams = Gauge(
            "boxpose_open_streams", "Videos being answered and WebSockets open, by kind.",
            ["kind"], registry=r,
        )  # fmt: skip
        self.dropped_frames = Counter(
            "boxpose_dropped_frames",
            "Frames not run through the model: sampled out of a video (fps), or overtaken on a "
            "stream by a newer frame.", ["reason"], registry=r,
        )  # fmt: skip
        for reason in REJECTION_REASONS:
            self.rejections.labels(reason)  # export zeros so rates exist from the start
        for stage in ("detect", "forward", "parse"):
            self.stage_duration.labels(stage)
        for kind in VIDEO_SOURCES:
            self.video_frames.labels(kind)
            self.open_streams.labels(kind)
        for reason in DROP_REASONS:
            self.dropped_frames.labels(reason)

    def render(self) -> tuple[bytes, str]:
        """The text exposition format and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
