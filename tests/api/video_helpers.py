"""Clips for the video and stream tests, encoded in memory with PyAV (MPEG-4 Part 2 in MP4)."""

from __future__ import annotations

import io
import json
import struct
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
        stream.options = {"qmax": "2"} if codec == "mpeg4" else {}  # quantiser <= 2
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


def turned(mp4: bytes, clockwise: int) -> bytes:
    """The clip as a phone writes it: the pictures unchanged, the track header's display matrix
    (ISO 14496-12 tkhd) telling players to turn them `clockwise` degrees (90, 180 or 270)."""
    at = mp4.find(b"tkhd")
    version = mp4[at + 4]
    # after the type: version and flags (4 bytes); creation and modification times, track id,
    # reserved, duration (20 bytes, 32 in version 1); reserved, layer, alternate group, volume,
    # reserved (16 bytes); then the matrix (9 x 32 bits)
    offset = at + 4 + 4 + (32 if version == 1 else 20) + 16
    one = 1 << 16
    a, b, c, d = {90: (0, one, -one, 0), 180: (-one, 0, 0, -one), 270: (0, -one, one, 0)}[clockwise]
    matrix = struct.pack(">9i", a, b, 0, c, d, 0, 0, 0, 1 << 30)
    return mp4[:offset] + matrix + mp4[offset + 36 :]
