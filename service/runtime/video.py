"""Video bytes -> frames at the working size, with their times: probe, limits, PyAV decoding.

The container is probed and its first frame decoded before anything is answered, so a video
that is not one (415), cannot be decoded (400) or is over a limit (413) is refused with a
reason; later decode errors surface as `VideoError` from the frame iterator. Frames are
converted (and shrunk to the working size, by FFmpeg's swscale) only when sampled (`fps`).
One lock guards the decoder: the iterator runs in worker threads, `close` from anywhere.
A phone's rotation (the display matrix, or an older file's "rotate" tag) is applied to every
frame, so sizes and coordinates are those of the video as it is shown.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace

import av
import numpy as np

from service.config import VideoConfig
from service.runtime.images import DecodedImage, ImageError, sniff
from service.runtime.working import Frame


class VideoError(ImageError):
    """A video the service refuses or cannot finish (the image errors' handler answers it)."""

    code = "invalid_video"


class NotAVideo(VideoError):
    status = 415
    code = "unsupported_media_type"


class VideoTooLarge(VideoError):
    status = 413
    code = "video_too_large"


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float  # the stream's average rate; 0 when unknown
    duration_s: float | None  # None when the container does not say
    frames: int | None  # from the header, or duration * fps; None when unknown
    codec: str
    rotation: int = 0  # degrees the decoded pictures turn counterclockwise to be shown: 0-270

    def as_dict(self) -> dict[str, object]:
        return {"width": self.width, "height": self.height, "fps": round(self.fps, 3),
                "duration_s": None if self.duration_s is None else round(self.duration_s, 3),
                "frames": self.frames, "codec": self.codec,
                "rotation": self.rotation}  # fmt: skip


@dataclass(frozen=True)
class VideoFrame:
    index: int  # in the video, from 0
    time_s: float
    image: DecodedImage  # (h, w, 3) at the working size; size = the video's (H, W)


class Video:
    """An opened, checked video; `frames(fps)` iterates its (sampled) frames once."""

    def __init__(self, container: av.container.InputContainer, info: VideoInfo,
                 config: VideoConfig, working_size: int) -> None:  # fmt: skip
        self.config = config
        self.decoded = 0  # frames decoded so far
        self._container: av.container.InputContainer | None = container
        self._decoder = container.decode(video=0)
        self._lock = threading.Lock()
        self._first = self._next_raw()  # a video whose first frame fails is undecodable (400)
        if self._first is None:
            raise VideoError("the video has no decodable frame")
        self.info = shown(info, display_rotation(self._first, container.streams.video[0]))
        self.frame = Frame.of(self.info.height, self.info.width, working_size)

    def _next_raw(self) -> av.VideoFrame | None:
        with self._lock:
            if self._container is None:
                return None
            try:
                frame = next(self._decoder, None)
            except av.FFmpegError as exc:
                raise VideoError(f"cannot decode frame {self.decoded}: {exc}") from exc
        if frame is not None:
            self.decoded += 1
            if self.decoded > self.config.max_frames:
                raise VideoTooLarge(f"more than {self.config.max_frames} frames")
        return frame

    def frames(self, fps: float | None = None) -> Iterator[VideoFrame]:
        """The frames at `fps` (None: every frame): the first frame at or after each tick."""
        step = 1.0 / fps if fps else 0.0
        next_time, index = 0.0, 0
        raw, self._first = self._first, None
        while raw is not None:
            time_s = float(raw.time) if raw.time is not None else index / (self.info.fps or 1.0)
            if time_s >= next_time - 1e-6:
                next_time = max(next_time + step, time_s) if step else 0.0
                yield VideoFrame(index, time_s, self._convert(raw))
            index += 1
            raw = self._next_raw()

    def _convert(self, raw: av.VideoFrame) -> DecodedImage:
        f, turns = self.frame, self.info.rotation // 90
        width, height = f.work_width, f.work_height
        if turns % 2:  # decoded on its side
            width, height = height, width
        with self._lock:
            rgb = raw.to_ndarray(width=width, height=height, format="rgb24")  # (h, w, 3) decoded
        rgb = np.rot90(rgb, turns)  # (h, w, 3) as shown: np.rot90 turns counterclockwise
        return DecodedImage(np.ascontiguousarray(rgb), "video", (f.height, f.width))

    def close(self) -> None:
        with self._lock:
            if self._container is not None:
                self._container.close()
                self._container = None


def open_video(data: bytes, config: VideoConfig, max_pixels: int, working_size: int) -> Video:
    """Bytes -> an opened `Video`; raises NotAVideo (415), VideoError (400) or VideoTooLarge
    (413) before any frame is answered."""
    if not data:
        raise VideoError("the video is empty")
    if sniff(data):
        raise NotAVideo("an image, not a video: send images to POST /v1/poses")
    if len(data) > config.max_bytes:
        raise VideoTooLarge(f"video over the limit of {config.max_bytes} bytes")
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except av.FFmpegError as exc:
        raise VideoError(f"cannot read the video: {exc}") from exc
    try:
        if not container.streams.video:
            raise NotAVideo("the file holds no video stream")
        if _is_image(container.format.name):
            raise NotAVideo(f"a still image ({container.format.name}), not a video")
        info = _probe(container)
        _check(info, config, max_pixels)
        return Video(container, info, config, working_size)
    except BaseException:
        container.close()
        raise


def display_rotation(frame: av.VideoFrame, stream: av.video.stream.VideoStream) -> int:
    """Degrees (0, 90, 180, 270) to turn the decoded picture counterclockwise to show it: the
    frame's display matrix, else the stream's "rotate" tag (clockwise degrees, older muxers)."""
    try:
        degrees = float(frame.rotation)
    except (AttributeError, TypeError, ValueError):
        degrees = 0.0
    if not -360.0 <= degrees <= 360.0:  # no usable matrix (FFmpeg answers NaN, or INT_MIN)
        degrees = 0.0
    if degrees == 0.0:
        try:
            degrees = -float(stream.metadata.get("rotate", 0))
        except ValueError:
            degrees = 0.0
    return round(degrees / 90.0) % 4 * 90


def shown(info: VideoInfo, rotation: int) -> VideoInfo:
    """The video's info as it is shown: a quarter turn swaps width and height."""
    if rotation in (90, 270):
        return replace(info, width=info.height, height=info.width, rotation=rotation)
    return replace(info, rotation=rotation)


def _is_image(format_name: str) -> bool:
    """FFmpeg's demuxers of still images (GIF, TIFF, ... read as one-frame videos)."""
    return format_name.endswith("_pipe") or format_name in ("image2", "gif", "webp")


def _probe(container: av.container.InputContainer) -> VideoInfo:
    stream = container.streams.video[0]
    ctx = stream.codec_context
    fps = float(stream.average_rate or stream.guessed_rate or 0)
    duration = None
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / av.time_base
    frames = int(stream.frames) or (round(duration * fps) if duration and fps else None)
    return VideoInfo(int(ctx.width), int(ctx.height), fps, duration, frames, ctx.name)


def _check(info: VideoInfo, config: VideoConfig, max_pixels: int) -> None:
    if info.width < 1 or info.height < 1:
        raise VideoError(f"video size {info.width}x{info.height}")
    if info.width * info.height > max_pixels:
        raise VideoTooLarge(f"video frames are {info.width}x{info.height}, over {max_pixels} "
                            "pixels")  # fmt: skip
    if info.duration_s is not None and info.duration_s > config.max_seconds:
        raise VideoTooLarge(f"the video lasts {info.duration_s:.1f} s, limit "
                            f"{config.max_seconds:g} s")  # fmt: skip
    if info.frames is not None and info.frames > config.max_frames:
        raise VideoTooLarge(f"the video has {info.frames} frames, limit {config.max_frames}")
