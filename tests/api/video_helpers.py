"""Clips for the video and stream tests, encoded in memory with PyAV (MPEG-4 Part 2 in MP4)."""

from __future__ import annotations

import io
import json
from typing import Any

import av
import numpy as np


def encode_clip(frames: list[np.ndarray], fps: int = 25, codec: str = "mpeg4") -> bytes:
    """(H, W, 3) uint8 RGB frames (even H and W) -> MP4 bytes."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"qscale": "2"} if codec == "mpeg4" else {}
        for rgb in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def still_clip(image: np.ndarray, count: int, fps: int = 25) -> bytes:
    return encode_clip([image] * count, fps)


def ndjson(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]
