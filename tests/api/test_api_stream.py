"""WS /v1/stream over real HTTP (the `websockets` client): answers with track ids, the newest
frame wins under a fast sender, and closes with a reason code on a bad frame or key."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from api_helpers import Server, metric_value
from runtime_fakes import SceneData
from test_api_video import SlowModel
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


def _ws(server: Server, query: str = "", **kw: object):  # type: ignore[no-untyped-def]
    return connect(server.url.replace("http", "ws") + "/v1/stream" + query, **kw)


def test_frames_are_answered_with_track_ids(server: Server, scene: SceneData) -> None:
    with _ws(server) as ws:
        answers = []
        for _ in range(3):
            ws.send(scene.jpeg())
            answers.append(json.loads(ws.recv(timeout=10)))
    assert [a["frame"] for a in answers] == [0, 1, 2]
    assert all(a["dropped"] == 0 for a in answers)
    ids = [sorted(p["track_id"] for p in a["persons"]) for a in answers]
    assert ids[0] == ids[1] == ids[2] == list(range(1, len(scene.keypoints) + 1))
    assert answers[0]["image"] == {"width": scene.image.shape[1], "height": scene.image.shape[0]}


def test_the_newest_frame_wins_under_a_fast_sender(
    make_server: Callable[..., Server], store: Path, scene: SceneData
) -> None:
    slow = SlowModel(store, delay_s=0.5)
    server = make_server(factory=slow.factory)
    slow.armed.set()
    sent = 30
    frame = scene.png()  # encoded once: the sender stays far faster than 2 frames a second
    with _ws(server) as ws:  # even on a loaded CPU (one CI run at load 9 answered too many)
        for _ in range(sent):
            ws.send(frame)
        answers = []
        while not answers or answers[-1]["frame"] != sent - 1:
            answers.append(json.loads(ws.recv(timeout=20)))
    assert len(answers) < sent / 2
    assert len(answers) + sum(a["dropped"] for a in answers) == sent
    frames = [a["frame"] for a in answers]
    assert frames == sorted(frames)
    text = httpx.get(server.url + "/metrics").text
    dropped = metric_value(text, "boxpose_dropped_frames_total", 'reason="newest_wins"')
    assert dropped == sent - len(answers)


def _closed(ws: object) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as info:
        for _ in range(5):
            ws.recv(timeout=10)  # type: ignore[attr-defined]
    rcvd = info.value.rcvd
    assert rcvd is not None
    return rcvd.code, rcvd.reason


def test_a_bad_frame_closes_with_1007(server: Server) -> None:
    with _ws(server) as ws:
        ws.send(b"not an image at all")
        code, reason = _closed(ws)
    assert code == 1007 and "frame 0" in reason


def test_a_text_message_closes_with_1003(server: Server) -> None:
    with _ws(server) as ws:
        ws.send("hello")
        code, reason = _closed(ws)
    assert code == 1003 and "binary" in reason


def test_the_api_key_is_required_when_set(make_server: Callable[..., Server],
                                          scene: SceneData) -> None:  # fmt: skip
    server = make_server(api_key="s3cret")
    with _ws(server) as ws:
        code, reason = _closed(ws)
    assert code == 1008 and "API key" in reason
    with _ws(server, "?api_key=s3cret") as ws:
        ws.send(scene.png())
        assert json.loads(ws.recv(timeout=10))["frame"] == 0
    with _ws(server, additional_headers={"X-API-Key": "s3cret"}) as ws:
        ws.send(scene.png())
        assert json.loads(ws.recv(timeout=10))["frame"] == 0
