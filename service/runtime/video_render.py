"""Drawn frames -> a video file (PyAV's encoders): `boxpose predict clip.mp4 --render out.mp4`.

The codec follows the file's suffix: H.264 in MP4, MOV and MKV (MPEG-4 Part 2 where FFmpeg has
no H.264 encoder), VP9 in WebM (VP8 as the fallback). Frames keep their order and the source's
rate; odd widths and heights lose their last column or row (4:2:0 needs even sizes).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np

# suffix -> (container format, codecs to try in order)
FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    ".mp4": ("mp4", ("libx264", "libopenh264", "mpeg4")),
    ".m4v": ("mp4", ("libx264", "libopenh264", "mpeg4")),
    ".mov": ("mov", ("libx264", "libopenh264", "mpeg4")),
    ".mkv": ("matroska", ("libx264", "libopenh264", "mpeg4")),
    ".webm": ("webm", ("libvpx-vp9", "libvpx")),
}
# per codec: good enough to read skeletons and ids, without a large file
OPTIONS: dict[str, dict[str, str]] = {
    "libx264": {"crf": "20", "preset": "veryfast"},
    "libvpx-vp9": {"crf": "32", "b": "0", "deadline": "realtime", "cpu-used": "8"},
    "libvpx": {"crf": "10", "b": "1M", "deadline": "realtime", "cpu-used": "8"},
    # the quantiser at most 3 (ffmpeg's -q:v 3); a "qscale" option is no AVOption and was ignored
    "mpeg4": {"qmax": "3"},
}


class RenderError(ValueError):
    """A render target this build cannot write."""


def encoder_for(path: Path) -> tuple[str, str]:
    """-> (container format, codec) for the file's suffix; RenderError when none is built in."""
    try:
        container, codecs = FORMATS[path.suffix.lower()]
    except KeyError as exc:
        raise RenderError(f"--render {path.name}: write .mp4, .m4v, .mov, .mkv or .webm") from exc
    for codec in codecs:
        try:
            av.codec.Codec(codec, "w")
        except ValueError:  # UnknownCodecError: not in this FFmpeg build
            continue
        return container, codec
    raise RenderError(f"no encoder for {path.suffix} in this FFmpeg build (tried {codecs})")


class ClipWriter:
    """Opened on the first frame (its size fixes the stream's); `write` frames in order."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path = path
        self.format, self.codec = encoder_for(path)
        self.rate = Fraction(fps).limit_denominator(1001) if fps > 0 else Fraction(25)
        self.frames = 0
        self._container: av.container.OutputContainer | None = None
        self._stream: av.video.stream.VideoStream | None = None

    def write(self, rgb: np.ndarray) -> None:
        """(H, W, 3) uint8 RGB, the same size every frame."""
        height, width = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
        if self._stream is None:
            self._open(width, height)
        assert self._container is not None and self._stream is not None
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:height, :width]), "rgb24")
        self._container.mux(self._stream.encode(frame))
        self.frames += 1

    def _open(self, width: int, height: int) -> None:
        self._container = av.open(str(self.path), mode="w", format=self.format)
        stream = self._container.add_stream(self.codec, rate=self.rate)
        assert isinstance(stream, av.video.stream.VideoStream)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        options: dict[str, object] = dict(OPTIONS.get(self.codec, {}))
        stream.options = options
        self._stream = stream

    def close(self) -> None:
        if self._container is not None and self._stream is not None:
            self._container.mux(self._stream.encode())  # flush the encoder
            self._container.close()
        self._container = self._stream = None

    def __enter__(self) -> ClipWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self.close()
