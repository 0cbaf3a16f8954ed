"""Frames of one video or stream -> batch-worker jobs -> JSON answers with track ids.

Shared by `POST /v1/poses:video` and `WS /v1/stream`: each frame is one job in the same worker
as images (the queue is shared, fairly: a caller keeps at most `max_queued_frames` jobs there),
answers are taken in frame order, and one `Tracker` per video or stream numbers the people
and tells the model where the people of the frames answered so far should be (track boxes; a
video's frame is submitted while up to `max_queued_frames` earlier ones are unanswered, so its
boxes are predicted from that many frames back).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from service.api.deps import PoseOptions
from service.metrics import Metrics
from service.runtime.batching import Job, JobResult, QueueFull
from service.runtime.images import DecodedImage
from service.runtime.keypoint_output import keypoint_layout
from service.runtime.lifecycle import Runtime
from service.runtime.serialise import pose_dict
from service.tracking.tracker import Tracker, TrackerConfig
from service.types import BoxSource, Pose

QUEUE_RETRY_S = 0.02  # a full queue: wait this long before trying the frame again


class FrameAnswerer:
    """One per video or stream: `submit` a frame's image, then `answer` its job, in order."""

    def __init__(self, runtime: Runtime, options: PoseOptions, metrics: Metrics,
                 source: str) -> None:  # fmt: skip
        self.runtime, self.options, self.metrics, self.source = runtime, options, metrics, source
        video = runtime.settings.video()
        self.max_queued = video.max_queued_frames
        self.layout = keypoint_layout(runtime.pipeline.skeleton, options.keep_neck)
        self.tracker = Tracker(runtime.pipeline.skeleton.sigmas_array, TrackerConfig(
            match=video.track_match, max_missed=video.track_max_missed,
            smoothing=video.track_smoothing))  # fmt: skip
        self.track_hints = video.track_hints
        self.answered = 0

    async def submit(self, image: DecodedImage, time_s: float) -> Job:
        """Queue one job (the frame at `time_s`, with the tracker's boxes of where its people
        should be when hints are on); waits (never refuses) while the shared queue is full, up
        to the deadline, then raises QueueFull."""
        worker, start = self.runtime.worker, time.monotonic()
        size = (image.height, image.width)
        hints = self.tracker.hint_boxes(time_s, size) if self.track_hints else None
        while True:
            try:
                (job,) = worker.submit([(image.rgb, None)], self.options.scales, time.monotonic(),
                                       [size], [hints])  # fmt: skip
                return job
            except QueueFull:
                if time.monotonic() - start > worker.config.deadline_s:
                    raise
                await asyncio.sleep(QUEUE_RETRY_S)

    async def answer(self, job: Job, index: int, time_s: float,
                     image: DecodedImage | None = None) -> dict[str, Any]:  # fmt: skip
        """The frame's JSON line: its people with track ids (the tracker sees frames in order;
        given the frame's `image`, it also knows people by their look)."""
        result: JobResult = await job.future
        sure = [_kept(p, self.options.score_threshold) for p in result.poses]
        kept = [p for p, ok in zip(result.poses, sure, strict=True) if ok]
        weak = [p for p, ok in zip(result.poses, sure, strict=True) if not ok]
        if image is None:
            tracked = self.tracker.update(kept, time_s, weak=weak)
        else:
            scale = (image.rgb.shape[1] / image.width, image.rgb.shape[0] / image.height)
            tracked = self.tracker.update(kept, time_s, image.rgb, scale, weak)
        self.answered += 1
        self.metrics.video_frames.labels(self.source).inc()
        self.metrics.persons.observe(len(tracked))
        t = result.timings
        return {
            "frame": index, "time_s": round(time_s, 4),
            "persons": [{"track_id": tp.track_id, **pose_dict(tp.pose, self.layout)}
                        for tp in tracked],
            "timings_ms": {"queue": round(result.queue_s * 1e3, 3),
                           "detect": round(t.detect * 1e3, 3),
                           "forward": round(t.forward * 1e3, 3),
                           "parse": round(t.parse * 1e3, 3)},
        }  # fmt: skip

    def model(self) -> dict[str, str]:
        pose = self.runtime.pipeline.pose
        return {"name": pose.name, "version": pose.version}


def cancel(jobs: list[Job]) -> None:
    """The worker skips cancelled jobs: a client gone stops the work for its frames."""
    for job in jobs:
        job.future.cancel()


def _kept(pose: Pose, threshold: float) -> bool:
    return pose.score >= threshold or (pose.box is not None and pose.box.source is BoxSource.CLIENT)
