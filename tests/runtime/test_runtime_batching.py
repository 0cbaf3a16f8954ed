"""BatchWorker contracts with a stand-in model: size, wait, pixel cap, deadlines, faults, drain.

No test passes on a clock: a gated model tells when a job is in it, and the waiting window is
30 s (no passing test waits it out; the 10 s guards only turn a hang into a failure).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import pytest

from service.config import BatchConfig
from service.metrics import Metrics
from service.runtime.batching import (
    BatchFailed,
    BatchWorker,
    DeadlineExceeded,
    Job,
    JobResult,
    QueueFull,
    WorkerStopped,
)
from service.runtime.bottomup import ImageMaps
from service.runtime.protocol import BatchOutput, ImageInput
from service.types import Pose

WINDOW_S = 30.0  # a batching window no passing test waits out
GUARD_S = 10.0  # a job the worker should answer at once, answered within this or a failure


class Model:
    """Each image's id is its pixel value; parse returns one pose scored by that id. With
    `gate`, a batch sets `entered` when it reaches the model and holds it until `release`."""

    def __init__(
        self, fail_ids: frozenset[int] = frozenset(), parse_fail_ids: frozenset[int] = frozenset(),
        delay: float = 0.0, gate: bool = False,
    ) -> None:  # fmt: skip
        self.batches: list[list[int]] = []
        self.fail_ids, self.parse_fail_ids, self.delay = fail_ids, parse_fail_ids, delay
        self.entered, self.release = threading.Event(), threading.Event()
        if not gate:
            self.release.set()

    def forward_batch(self, inputs: list[ImageInput]) -> BatchOutput:
        ids = [int(inp.image[0, 0, 0]) for inp in inputs]
        self.batches.append(ids)
        self.entered.set()
        self.release.wait(GUARD_S)
        time.sleep(self.delay)
        if self.fail_ids & set(ids):
            raise RuntimeError("injected")
        maps = [ImageMaps(inp.image[None, :, :, 0].astype(np.float32), np.zeros(0), None)
                for inp in inputs]  # fmt: skip
        return BatchOutput(maps, 0.001, 0.002)

    def parse(self, item: ImageMaps) -> list[Pose]:
        image_id = int(item.maps[0, 0, 0])
        if image_id in self.parse_fail_ids:
            raise ValueError("bad maps")
        return [Pose(np.zeros((14, 3)), float(image_id))]


def image(image_id: int, height: int = 8, width: int = 8) -> np.ndarray:
    return np.full((height, width, 3), image_id, dtype=np.uint8)


def run(model: Model, config: BatchConfig, body: Callable[[BatchWorker], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        worker = BatchWorker(model, config, Metrics())
        await worker.start()
        try:
            return await body(worker)
        finally:
            model.release.set()  # a failed test leaves no batch held
            await worker.stop(timeout=5)

    return asyncio.run(main())


def submit(worker: BatchWorker, image_id: int, height: int = 8, width: int = 8) -> Job:
    return worker.submit([(image(image_id, height, width), None)], (1.0,), time.monotonic())[0]


async def answered(*jobs: Job) -> None:
    """Each job answered; a job the worker holds back fails the test after GUARD_S."""
    await asyncio.wait_for(asyncio.gather(*(job.future for job in jobs)), GUARD_S)


async def in_model(model: Model) -> None:
    """Until a batch has reached the model (it is held there while the model is gated)."""
    assert await asyncio.get_running_loop().run_in_executor(None, model.entered.wait, GUARD_S)


async def settle() -> None:
    """A few turns of the event loop: the worker reaches its next wait (no clock involved)."""
    for _ in range(20):
        await asyncio.sleep(0)


async def submit_all(worker: BatchWorker, ids: list[int], **kw: Any) -> list[Any]:
    jobs = [worker.submit([(image(i, **kw), None)], (1.0,), time.monotonic())[0] for i in ids]
    return await asyncio.gather(*(job.future for job in jobs), return_exceptions=True)


def test_each_job_gets_its_own_result_in_batches_up_to_max_size() -> None:
    model = Model()
    config = BatchConfig(max_batch_size=3, max_wait_s=0.05)
    results = run(model, config, lambda w: submit_all(w, list(range(7))))
    assert [r.poses[0].score for r in results] == list(range(7))
    assert all(isinstance(r, JobResult) and r.queue_s >= 0 for r in results)
    assert [len(b) for b in model.batches] == [3, 3, 1]


def test_batch_closes_after_max_wait_from_the_oldest_job() -> None:
    """A job whose window has passed since its arrival goes at once, alone; a job that has
    just arrived waits in its window for company (here: until a second one fills the batch)."""
    model = Model()

    async def body(worker: BatchWorker) -> None:
        old = submit(worker, 1)
        old.arrival -= WINDOW_S  # it arrived a window ago (before the worker could look)
        await answered(old)
        fresh = submit(worker, 2)
        await settle()
        assert not fresh.future.done() and worker.depth == 1  # waiting in its window
        await answered(fresh, submit(worker, 3))

    run(model, BatchConfig(max_batch_size=2, max_wait_s=WINDOW_S, adaptive_wait=False), body)
    assert model.batches == [[1], [2, 3]]


def test_adaptive_wait_sends_a_lone_job_at_once_until_a_batch_had_company() -> None:
    model = Model()

    async def body(worker: BatchWorker) -> None:
        await answered(submit(worker, 9))  # no load seen: at once, not after the window
        await answered(*(submit(worker, i) for i in (1, 2, 3)))  # queued together: a full batch
        after_company = submit(worker, 4)
        await settle()
        assert not after_company.future.done() and worker.depth == 1  # the window again
        big = submit(worker, 5, 16, 16)  # over the pixel cap with job 4: job 4 goes alone
        await answered(after_company)
        await answered(big)  # the last batch was lone: at once

    config = BatchConfig(max_batch_size=3, max_wait_s=WINDOW_S, max_batch_pixels=3 * 8 * 8)
    run(model, config, body)
    assert model.batches == [[9], [1, 2, 3], [4], [5]]


def test_pixel_cap_splits_batches() -> None:
    model = Model()
    config = BatchConfig(max_batch_size=8, max_wait_s=0.05, max_batch_pixels=2 * 64)
    run(model, config, lambda w: submit_all(w, [1, 2, 3, 4, 5]))
    assert [len(b) for b in model.batches] == [2, 2, 1]


def test_failing_batch_fails_only_its_jobs_and_the_worker_survives() -> None:
    model = Model(fail_ids=frozenset({4}))
    config = BatchConfig(max_batch_size=3, max_wait_s=0.05)
    results = run(model, config, lambda w: submit_all(w, list(range(9))))
    failed_batch = next(b for b in model.batches if 4 in b)
    for i, result in enumerate(results):
        assert isinstance(result, BatchFailed) == (i in failed_batch)
    assert len(model.batches) == 3


def test_a_parse_error_fails_only_that_image() -> None:
    model = Model(parse_fail_ids=frozenset({2}))
    results = run(model, BatchConfig(max_wait_s=0.05), lambda w: submit_all(w, [1, 2, 3]))
    assert [type(r).__name__ for r in results] == ["JobResult", "BatchFailed", "JobResult"]


def test_full_queue_refuses_at_once_all_or_none() -> None:
    model = Model(gate=True)

    async def body(worker: BatchWorker) -> None:
        first = submit(worker, 1)
        await in_model(model)  # job 1 is held in the model; the queue is empty
        worker.submit([(image(i), None) for i in (2, 3)], (1.0,), time.monotonic())
        with pytest.raises(QueueFull):  # two more than the one free place: neither gets in
            worker.submit([(image(i), None) for i in (4, 5)], (1.0,), time.monotonic())
        assert worker.depth == 2
        submit(worker, 6)  # one fits
        with pytest.raises(QueueFull):
            submit(worker, 7)
        assert worker.depth == 3
        model.release.set()
        await answered(first)

    run(model, BatchConfig(max_batch_size=1, max_wait_s=0.0, queue_size=3), body)
    assert model.batches == [[1], [2], [3], [6]]


def test_hopeless_jobs_are_dropped_before_the_model() -> None:
    model = Model(delay=0.3)
    config = BatchConfig(max_batch_size=1, max_wait_s=0.0, deadline_s=0.2)
    results = run(model, config, lambda w: submit_all(w, [1, 2]))
    assert isinstance(results[0], JobResult)  # it was on time when it started
    assert isinstance(results[1], DeadlineExceeded)
    assert model.batches == [[1]]


def test_cancelled_jobs_are_skipped() -> None:
    model = Model(gate=True)

    async def body(worker: BatchWorker) -> None:
        jobs = [submit(worker, i) for i in (1, 2)]
        await in_model(model)  # job 1 is held in the model, job 2 waits in the queue
        jobs[1].future.cancel()  # its client went away while it waited
        model.release.set()
        await answered(jobs[0])

    run(model, BatchConfig(max_batch_size=1, max_wait_s=0.0), body)
    assert model.batches == [[1]]


def test_stop_drains_queued_jobs_then_refuses() -> None:
    model = Model(delay=0.05)
    release = threading.Event()

    async def main() -> tuple[list[Any], BaseException | None]:
        worker = BatchWorker(model, BatchConfig(max_batch_size=1, max_wait_s=0.0), Metrics())
        await worker.start()
        jobs = [worker.submit([(image(i), None)], (1.0,), time.monotonic())[0] for i in (1, 2, 3)]
        await worker.stop(timeout=5)
        release.set()
        refused = None
        try:
            worker.submit([(image(9), None)], (1.0,), time.monotonic())
        except WorkerStopped as exc:
            refused = exc
        return [job.future.result() for job in jobs], refused

    results, refused = asyncio.run(main())
    assert [r.poses[0].score for r in results] == [1, 2, 3] and refused is not None
