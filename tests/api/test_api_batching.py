"""The queue worker seen over real HTTP: batching, fault isolation, overflow, disconnects."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from api_helpers import Hooks, Server, metric_value
from runtime_fakes import SceneData


def post_box(
    server: Server, scene: SceneData, box: list[float], timeout: float = 30
) -> httpx.Response:
    files = {"image": ("scene.png", scene.png(), "image/png")}
    return httpx.post(f"{server.url}/v1/poses", files=files,
                      data={"boxes": json.dumps([box])}, timeout=timeout)  # fmt: skip


def shifted(box: list[float], dx: float) -> list[float]:
    return [box[0] + dx, box[1], box[2] + dx, box[3]]


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.01)


def test_concurrent_requests_are_batched_and_answered_each(
    make_server: Callable[..., Server], scene: SceneData, store: Path
) -> None:
    hooks = Hooks(store, gate=True)  # holds the first job so the others queue, however slow CI is
    server = make_server(factory=hooks.factory, max_batch_size=8, max_wait_ms=400)
    hooks.armed.set()
    which = [i % 2 for i in range(6)]
    with ThreadPoolExecutor(6) as pool:
        first = pool.submit(post_box, server, scene, scene.boxes[which[0]])
        assert hooks.entered.wait(10)
        queued = [pool.submit(post_box, server, scene, scene.boxes[i]) for i in which[1:]]
        wait_for(lambda: server.runtime.worker.depth == 5)
        hooks.release.set()
        responses = [first.result(), *(f.result() for f in queued)]
    for index, response in zip(which, responses, strict=True):
        assert response.status_code == 200, response.text
        persons = response.json()["persons"]
        assert len(persons) == 1 and persons[0]["box"] == [round(v, 2) for v in scene.boxes[index]]
        head = persons[0]["keypoints"][12]
        assert abs(head[0] - scene.keypoints[index][12][0]) < 2  # its own person, not the other
    assert [len(call) for call in hooks.calls] == [1, 5]  # the five queued jobs ran as one batch
    text = httpx.get(f"{server.url}/metrics").text
    assert metric_value(text, "boxpose_batch_size_sum") == 6  # warm-up bypasses the worker
    assert metric_value(text, "boxpose_batch_size_count") == 2
    assert metric_value(text, "boxpose_batch_size_bucket", 'le="1.0"') == 1


def test_a_failing_batch_fails_only_its_own_jobs(
    make_server: Callable[..., Server], scene: SceneData, store: Path
) -> None:
    hooks = Hooks(store, fail_calls=(0,))
    server = make_server(factory=hooks.factory, max_batch_size=3, max_wait_ms=300)
    hooks.armed.set()
    boxes = [shifted(scene.boxes[0], i) for i in range(6)]
    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(lambda b: post_box(server, scene, b), boxes))
    failed = {tuple(b) for b, r in zip(boxes, responses, strict=True) if r.status_code == 500}
    assert failed == {tuple(b[0].as_list()) for b in hooks.calls[0]}  # exactly batch 0's jobs
    for box, response in zip(boxes, responses, strict=True):
        if tuple(box) in failed:
            assert response.json()["error"]["code"] == "inference_failed"
        else:
            assert response.status_code == 200 and len(response.json()["persons"]) == 1
    assert len(hooks.calls) >= 2  # the worker survived and ran the other batches
    assert post_box(server, scene, scene.boxes[1]).status_code == 200
    text = httpx.get(f"{server.url}/metrics").text
    assert metric_value(text, "boxpose_batch_failures_total") == 1


def test_queue_overflow_is_503_and_nothing_else_is_lost(
    make_server: Callable[..., Server], scene: SceneData, store: Path
) -> None:
    hooks = Hooks(store, gate=True)
    server = make_server(factory=hooks.factory, max_batch_size=1, queue_size=2, max_wait_ms=0)
    hooks.armed.set()
    with ThreadPoolExecutor(6) as pool:
        first = pool.submit(post_box, server, scene, scene.boxes[0])
        assert hooks.entered.wait(10)  # the first job holds the model
        queued = [pool.submit(post_box, server, scene, scene.boxes[1]) for _ in range(2)]
        wait_for(lambda: server.runtime.worker.depth == 2)
        rejected = [post_box(server, scene, scene.boxes[1]) for _ in range(3)]
        for response in rejected:
            assert response.status_code == 503
            assert response.json()["error"]["code"] == "overloaded"
            assert response.headers["retry-after"] == "1"
        hooks.release.set()
        accepted = [first.result(), *(f.result() for f in queued)]
    assert [r.status_code for r in accepted] == [200, 200, 200]
    assert len(hooks.calls) == 3  # every accepted job ran once; no rejected job did
    text = httpx.get(f"{server.url}/metrics").text
    assert metric_value(text, "boxpose_rejections_total", 'reason="queue_full"') == 3
    assert metric_value(text, "boxpose_queue_depth") == 0


def test_a_client_that_leaves_poisons_nothing(
    make_server: Callable[..., Server], scene: SceneData, store: Path
) -> None:
    hooks = Hooks(store, gate=True)
    server = make_server(factory=hooks.factory, max_batch_size=1, max_wait_ms=0)
    hooks.armed.set()
    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(post_box, server, scene, scene.boxes[0], 1.5)  # gives up at 1.5 s
        assert hooks.entered.wait(10)
        leaving = pool.submit(post_box, server, scene, scene.boxes[1], 1.5)  # leaves while queued
        for future in (running, leaving):
            try:
                future.result()
                raise AssertionError("the client should have timed out")
            except httpx.ReadTimeout:
                pass
    time.sleep(0.2)
    hooks.release.set()
    response = post_box(server, scene, scene.boxes[1])
    assert response.status_code == 200 and len(response.json()["persons"]) == 1
    assert len(hooks.calls) == 2  # the abandoned queued job never reached the model
    text = httpx.get(f"{server.url}/metrics").text
    assert metric_value(text, "boxpose_rejections_total", 'reason="client_disconnected"') >= 2


def test_deadline_drops_jobs_before_model_time(
    make_server: Callable[..., Server], scene: SceneData, store: Path
) -> None:
    hooks = Hooks(store, gate=True)
    server = make_server(factory=hooks.factory, max_batch_size=1, max_wait_ms=0, deadline_s=1.0)
    hooks.armed.set()
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(post_box, server, scene, scene.boxes[0])
        assert hooks.entered.wait(10)
        late = pool.submit(post_box, server, scene, scene.boxes[1])
        time.sleep(2.0)  # past both deadlines, with room for a slow upload
        hooks.release.set()
        responses = [first.result(), late.result()]
    for response in responses:
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "deadline_exceeded"
    assert len(hooks.calls) == 1  # the late job was dropped without a model run
    assert post_box(server, scene, scene.boxes[1]).status_code == 200
