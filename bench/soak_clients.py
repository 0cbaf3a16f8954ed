"""The soak bench's clients (bench/soak.py): each kind loops until the deadline and tallies how
every request ended. Inputs are made from the page's sample photo (public domain), moved across a
320x240 frame, so videos and streams carry one walking person."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import websockets
from PIL import Image

SAMPLE = Path(__file__).resolve().parents[1] / "service/api/static/sample.jpg"
WIDTH, HEIGHT = 320, 240
TIMEOUT_S = 300.0


def frames(count: int) -> list[np.ndarray]:
    """(H, W, 3) uint8: the astronaut (200 px) sliding left to right over grey."""
    person = np.asarray(Image.open(SAMPLE).convert("RGB").resize((200, 200)))
    out = []
    for i in range(count):
        x = round((WIDTH - 200) * i / max(count - 1, 1))
        canvas = np.full((HEIGHT, WIDTH, 3), 128, np.uint8)
        canvas[HEIGHT - 200 :, x : x + 200] = person
        out.append(canvas)
    return out


def jpeg(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def mp4(images: list[np.ndarray], fps: int = 10) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for rgb in images:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode())
    return buffer.getvalue()


@dataclass(frozen=True)
class Inputs:
    photos: list[bytes]
    clip: bytes  # 12 frames, read whole
    long_clip: bytes  # 40 frames, dropped after a few lines
    stream: list[bytes]  # 12 JPEG frames

    @classmethod
    def make(cls) -> Inputs:
        moving = frames(40)
        return cls(photos=[SAMPLE.read_bytes(), jpeg(moving[20])], clip=mp4(moving[::4][:12]),
                   long_clip=mp4(moving), stream=[jpeg(f) for f in moving[::3][:12]])  # fmt: skip


@dataclass
class Tally:
    answered: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)  # "kind status code" -> count
    vanished: Counter[str] = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)

    def judge(self, kind: str, status: int, body: bytes) -> None:
        """A whole HTTP answer: 200 with JSON, or an error JSON with a code and a message."""
        try:
            data = json.loads(body)
        except ValueError:
            self.failed.append(f"{kind}: HTTP {status}, not JSON")
            return
        error = data.get("error") if isinstance(data, dict) else None
        if status == 200 and error is None:
            self.answered[kind] += 1
        elif status >= 400 and error and error.get("code") and error.get("message"):
            self.refused[f"{kind} {status} {error['code']}"] += 1
        else:
            self.failed.append(f"{kind}: HTTP {status} {body[:80]!r}")

    def as_dict(self) -> dict[str, Any]:
        return {"answered": dict(self.answered), "refused": dict(self.refused),
                "vanished": dict(self.vanished), "failed": self.failed}  # fmt: skip


async def photos(client: httpx.AsyncClient, url: str, inputs: Inputs, tally: Tally) -> None:
    body = inputs.photos[tally.answered["photo"] % len(inputs.photos)]
    response = await client.post(f"{url}/v1/poses", content=body,
                                 headers={"content-type": "image/jpeg"})  # fmt: skip
    tally.judge("photo", response.status_code, response.content)


async def video(client: httpx.AsyncClient, url: str, body: bytes, tally: Tally,
                vanish_after: int | None) -> None:  # fmt: skip
    """Read the NDJSON to its summary, or close the connection after `vanish_after` lines."""
    kind = "video" if vanish_after is None else "video_dropped"
    request = client.build_request("POST", f"{url}/v1/poses:video", content=body,
                                   headers={"content-type": "video/mp4"})  # fmt: skip
    response = await client.send(request, stream=True)
    try:
        if response.status_code != 200:
            tally.judge(kind, response.status_code, await response.aread())
            return
        lines = 0
        async for text in response.aiter_lines():
            line = json.loads(text) if text.strip() else {}
            if "summary" in line:
                tally.answered[kind] += 1
                return
            if "error" in line:
                tally.refused[f"{kind} line {line['error'].get('code')}"] += 1
                return
            lines += bool(line)
            if vanish_after is not None and lines >= vanish_after:
                tally.vanished[kind] += 1
                return
        tally.failed.append(f"{kind}: the answer ended without a summary")
    finally:
        await response.aclose()  # unread: httpx drops the connection


async def stream(url: str, inputs: Inputs, tally: Tally, vanish: bool) -> None:
    """Send frames fast; wait for the last one's answer and close, or abort the TCP connection
    after the first answer."""
    kind = "stream_vanished" if vanish else "stream"
    ws_url = url.replace("http://", "ws://") + "/v1/stream"
    try:
        async with websockets.connect(ws_url, max_size=2**24, open_timeout=60) as ws:
            last = len(inputs.stream) - 1
            for frame in inputs.stream:
                await ws.send(frame)
                await asyncio.sleep(0.02)
            while True:
                answer = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT_S))
                if vanish:
                    ws.transport.abort()
                    tally.vanished[kind] += 1
                    return
                if answer["frame"] == last:
                    tally.answered[kind] += 1
                    return
    except websockets.ConnectionClosed as exc:
        if exc.rcvd is not None and exc.rcvd.reason:
            tally.refused[f"{kind} close {exc.rcvd.code}"] += 1
        else:
            tally.failed.append(f"{kind}: closed without a reason ({exc})")


async def malformed(client: httpx.AsyncClient, url: str, inputs: Inputs, tally: Tally) -> None:
    """Four refusals a turn: each must carry its reason."""
    requests = (("junk_video", "/v1/poses:video", b"\x00junk" * 200, "video/mp4"),
                ("image_as_video", "/v1/poses:video", inputs.photos[1], "image/jpeg"),
                ("junk_image", "/v1/poses", b"not an image", "image/jpeg"))  # fmt: skip
    for kind, path, body, media in requests:
        response = await client.post(url + path, content=body, headers={"content-type": media})
        tally.judge(kind, response.status_code, response.content)
    ws_url = url.replace("http://", "ws://") + "/v1/stream"
    try:
        async with websockets.connect(ws_url, open_timeout=60) as ws:
            await ws.send("a text message")
            await asyncio.wait_for(ws.recv(), TIMEOUT_S)
        tally.failed.append("text_frame: answered instead of closed")
    except websockets.ConnectionClosed as exc:
        reason = exc.rcvd.reason if exc.rcvd is not None else ""
        if reason:
            tally.refused[f"text_frame close {exc.rcvd.code if exc.rcvd else ''}"] += 1
        else:
            tally.failed.append(f"text_frame: closed without a reason ({exc})")


async def loop(name: str, deadline: float, tally: Tally, call: Any, pause_s: float = 0.0) -> None:
    """Call `call()` until the deadline; an exception is a failed request, never a stop."""
    while time.monotonic() < deadline:
        try:
            await call()
        except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
            tally.failed.append(f"{name}: {type(exc).__name__}: {exc}"[:200])
        if pause_s:
            await asyncio.sleep(pause_s)


async def run_clients(url: str, inputs: Inputs, deadline: float, tally: Tally) -> None:
    # idle connections dropped after 2 s, before uvicorn's 5 s keep-alive: a request sent on a
    # connection the server is closing fails without an answer (a client-side race, not a refusal)
    limits = httpx.Limits(keepalive_expiry=2.0)
    async with httpx.AsyncClient(timeout=TIMEOUT_S, limits=limits) as client:
        await asyncio.gather(
            loop("photo", deadline, tally, lambda: photos(client, url, inputs, tally)),
            loop("video", deadline, tally, lambda: video(client, url, inputs.clip, tally, None)),
            loop("video_dropped", deadline, tally,
                 lambda: video(client, url, inputs.long_clip, tally, 3), 1.0),
            loop("stream", deadline, tally, lambda: stream(url, inputs, tally, False)),
            loop("stream_vanished", deadline, tally, lambda: stream(url, inputs, tally, True), 1.0),
            loop("malformed", deadline, tally, lambda: malformed(client, url, inputs, tally), 5.0),
        )  # fmt: skip
