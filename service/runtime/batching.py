"""Jobs (image, boxes, future) -> batches through the models -> each job's own poses.

One contract (STYLE.md 8, after BentoML's dispatcher): a job holds its arrival time, its input
and a future. One worker drains a bounded queue into batches up to a size, a total pixel count or
a wait measured from the oldest job's arrival (skipped for a lone job when the last batch held
one job too: `BatchConfig.adaptive_wait`); it runs the models once per batch in a single
model thread (off the event loop), then parses each image in a thread pool while the next batch
runs. A failing batch fails only its own jobs; a job that cannot meet its deadline is dropped
before it costs model time; a job whose client went away (future cancelled) is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from service.config import BatchConfig
from service.metrics import Metrics
from service.runtime.protocol import BatchOutput, ImageInput, StageTimings
from service.types import Box, Pose


class Overloaded(Exception):
    """A job refused or dropped by the worker; the HTTP layer answers 503."""

    reason = "overloaded"


class QueueFull(Overloaded):
    reason = "queue_full"


class DeadlineExceeded(Overloaded):
    reason = "deadline"


class WorkerStopped(Overloaded):
    reason = "not_ready"


class BatchFailed(Exception):
    """The model run of this job's batch raised; other batches are unaffected."""


class BatchModel(Protocol):
    """The part of a `PoseModel` the worker uses (any kind's per-image output)."""

    def forward_batch(self, inputs: list[ImageInput]) -> BatchOutput[Any]: ...

    def parse(self, item: Any) -> list[Pose]: ...


@dataclass(frozen=True)
class JobResult:
    poses: list[Pose]
    timings: StageTimings
    queue_s: float
    batch_size: int


@dataclass(eq=False)
class Job:
    arrival: float  # monotonic seconds, when it entered the queue
    deadline: float  # monotonic seconds, counted from the request's arrival
    input: ImageInput
    future: asyncio.Future[JobResult] = field(repr=False)

    @property
    def pixels(self) -> int:
        return int(self.input.image.shape[0] * self.input.image.shape[1])


class BatchWorker:
    def __init__(self, model: BatchModel, config: BatchConfig, metrics: Metrics) -> None:
        self.model, self.config, self.metrics = model, config, metrics
        self._pending: deque[Job] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._finishing: set[asyncio.Task[None]] = set()
        self._model_pool = ThreadPoolExecutor(1, thread_name_prefix="boxpose-model")
        self._parse_pool = ThreadPoolExecutor(config.parse_workers, "boxpose-parse")
        self._batch_s = 0.0  # moving average of a batch's model time, for deadline checks
        self._last_batch_size = 1  # no load seen yet: a lone first job goes at once
        self._inflight: set[Job] = set()  # taken from the queue, not yet resolved

    @property
    def depth(self) -> int:
        return len(self._pending)

    @property
    def idle(self) -> bool:
        return not self._pending and not self._inflight

    def submit(
        self,
        images: list[tuple[np.ndarray, list[Box] | None]],
        scales: tuple[float, ...],
        request_arrival: float,
        sizes: list[tuple[int, int] | None] | None = None,
        hints: list[list[Box] | None] | None = None,
    ) -> list[Job]:
        """Queue one job per (image, client boxes), all or none; raises QueueFull (answer 503)
        at once. sizes: (H, W) of each image's original when the image is a smaller rendition
        (the working image); boxes and poses are in the original's pixels. hints: each image's
        track boxes (a video's frame; `ImageInput.hints`)."""
        if self._task is None or self._task.done():
            raise WorkerStopped("the batch worker is not running")
        if len(self._pending) + len(images) > self.config.queue_size:
            self.metrics.rejections.labels("queue_full").inc(len(images))
            raise QueueFull(f"queue full ({self.config.queue_size} jobs)")
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        deadline = request_arrival + self.config.deadline_s
        originals = sizes if sizes is not None else [None] * len(images)
        tracked = hints if hints is not None else [None] * len(images)
        jobs = [Job(now, deadline, ImageInput(im, bx, scales, size, hint), loop.create_future())
                for (im, bx), size, hint in zip(images, originals, tracked, strict=True)]
        self._pending.extend(jobs)
        self.metrics.queue_depth.set(len(self._pending))
        self._wakeup.set()
        return jobs

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="boxpose-batch-worker")

    async def stop(self, timeout: float = 30.0) -> None:
        """Let queued and running jobs finish (up to `timeout`), then stop; later jobs fail."""
        end = time.monotonic() + timeout
        while not self.idle and time.monotonic() < end:
            await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._finishing):
            task.cancel()
        stopped = WorkerStopped("the service is shutting down")
        for job in [*self._pending, *self._inflight]:
            _fail(job, stopped)
        self._pending.clear()
        self._inflight.clear()
        self.metrics.queue_depth.set(0)
        self._model_pool.shutdown(wait=False, cancel_futures=True)
        self._parse_pool.shutdown(wait=False, cancel_futures=True)

    async def _loop(self) -> None:
        while True:
            batch = await self._collect()
            if batch:
                await self._run(batch)

    async def _collect(self) -> list[Job]:
        """Wait for a first job, then (unless `_dispatch_now`) for more until size, pixel cap or
        the oldest's wait."""
        while not self._pending:
            self._wakeup.clear()
            await self._wakeup.wait()
        if self._dispatch_now():
            return self._take()
        close_at = self._pending[0].arrival + self.config.max_wait_s
        while not self._full() and (remaining := close_at - time.monotonic()) > 0:
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), remaining)
        return self._take()

    def _dispatch_now(self) -> bool:
        """A lone job while the last batch was lone too: no one to wait for (adaptive_wait)."""
        return (self.config.adaptive_wait and len(self._pending) == 1
                and self._last_batch_size == 1)

    def _full(self) -> bool:
        pixels = sum(job.pixels for job in self._pending)
        return (
            len(self._pending) >= self.config.max_batch_size
            or pixels >= self.config.max_batch_pixels
        )

    def _take(self) -> list[Job]:
        """Pop up to the size and pixel caps; skip abandoned jobs, drop hopeless ones."""
        batch: list[Job] = []
        pixels, now = 0, time.monotonic()
        while self._pending and len(batch) < self.config.max_batch_size:
            job = self._pending[0]
            if batch and pixels + job.pixels > self.config.max_batch_pixels:
                break  # stays first in line for the next batch
            self._pending.popleft()
            if job.future.done():  # the client went away (or its deadline passed)
                self.metrics.rejections.labels("client_disconnected").inc()
            elif now + self._batch_s > job.deadline:
                self.metrics.rejections.labels("deadline").inc()
                _fail(job, DeadlineExceeded("the request cannot finish before its deadline"))
            else:
                batch.append(job)
                pixels += job.pixels
        self.metrics.queue_depth.set(len(self._pending))
        return batch

    async def _run(self, batch: list[Job]) -> None:
        """Models once for the batch (model thread), then parse concurrently with the next."""
        loop = asyncio.get_running_loop()
        start = time.monotonic()
        self._inflight.update(batch)
        for job in batch:
            self.metrics.queue_wait.observe(start - job.arrival)
        try:
            inputs = [job.input for job in batch]
            output = await loop.run_in_executor(self._model_pool, self.model.forward_batch, inputs)
        except Exception as exc:  # noqa: BLE001 - any model error fails this batch only
            self.metrics.batch_failures.inc()
            self.metrics.rejections.labels("failed").inc(len(batch))
            for job in batch:
                _fail(job, BatchFailed(f"inference failed: {type(exc).__name__}: {exc}"))
            self._inflight.difference_update(batch)
            return
        self._batch_s = 0.8 * self._batch_s + 0.2 * (time.monotonic() - start)
        self._last_batch_size = len(batch)
        self.metrics.batch_size.observe(len(batch))
        self.metrics.stage_duration.labels("detect").observe(output.detect_s)
        self.metrics.stage_duration.labels("forward").observe(output.forward_s)
        task = asyncio.create_task(self._finish(batch, output, start))
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)

    async def _finish(self, batch: list[Job], output: BatchOutput[Any], start: float) -> None:
        loop = asyncio.get_running_loop()
        try:
            if len(output.images) != len(batch):
                raise RuntimeError(f"{len(output.images)} outputs for {len(batch)} images")
            await asyncio.gather(*(
                loop.run_in_executor(self._parse_pool, self._parse_one, job, item, output, start,
                                     len(batch))
                for job, item in zip(batch, output.images, strict=True)
            ))  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - whatever broke, no job of this batch hangs
            for job in batch:
                _fail(job, BatchFailed(f"parsing failed: {type(exc).__name__}: {exc}"))
        finally:
            self._inflight.difference_update(batch)

    def _parse_one(
        self, job: Job, item: Any, output: BatchOutput[Any], start: float, size: int
    ) -> None:
        """In a parse thread: poses for one image, then resolve its future on the loop."""
        loop = job.future.get_loop()
        if job.future.done():
            return
        t0 = time.perf_counter()
        try:
            poses = self.model.parse(item)
        except Exception as exc:  # noqa: BLE001 - a parse error fails this image only
            loop.call_soon_threadsafe(_fail, job, BatchFailed(f"parsing failed: {exc}"))
            return
        parse_s = time.perf_counter() - t0
        self.metrics.stage_duration.labels("parse").observe(parse_s)
        timings = StageTimings(output.detect_s, output.forward_s, parse_s)
        result = JobResult(poses, timings, start - job.arrival, size)
        loop.call_soon_threadsafe(_resolve, job, result)


def _resolve(job: Job, result: JobResult) -> None:
    if not job.future.done():
        job.future.set_result(result)


def _fail(job: Job, exc: BaseException) -> None:
    if not job.future.done():
        job.future.set_exception(exc)
