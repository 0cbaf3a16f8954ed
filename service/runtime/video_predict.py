"""`boxpose predict CLIP.mp4 --out poses.ndjson [--render out.mp4]`: a video's tracked poses
without a server, the same NDJSON lines as `POST /v1/poses:video`, with a progress bar; `--render`
writes the frames as the model saw them (the working size) with skeletons and track ids."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from service.config import Settings
from service.runtime.keypoint_output import keypoint_layout
from service.runtime.protocol import PoseModel
from service.runtime.render import render_tracks
from service.runtime.serialise import pose_dict
from service.runtime.video import Video, VideoError, open_video
from service.runtime.video_render import ClipWriter, RenderError
from service.tracking.tracker import TrackedPose, Tracker, TrackerConfig

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg",
                            ".ts", ".y4m"})  # fmt: skip


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def run(args: argparse.Namespace, settings: Settings, pipeline: PoseModel[Any]) -> int:
    config = settings.video()
    try:
        video = open_video(args.image.read_bytes(), config, settings.max_pixels,
                           pipeline.working_size)  # fmt: skip
    except (OSError, VideoError) as exc:
        print(f"boxpose predict: {exc}", file=sys.stderr)
        return 2
    try:
        writer = ClipWriter(args.render, video.info.fps) if args.render else None
    except RenderError as exc:
        video.close()
        print(f"boxpose predict: {exc}", file=sys.stderr)
        return 2
    tracker = Tracker(pipeline.skeleton.sigmas_array, TrackerConfig(
        match=config.track_match, max_missed=config.track_max_missed,
        smoothing=config.track_smoothing))  # fmt: skip
    out = args.out.open("w") if args.out else sys.stdout
    try:
        code = _write(video, pipeline, tracker, args, out, writer, config.track_hints)
    finally:
        video.close()
        if writer is not None:
            writer.close()
        if args.out:
            out.close()
    return code


def _write(video: Video, pipeline: PoseModel[Any], tracker: Tracker, args: argparse.Namespace,
           out: Any, writer: ClipWriter | None, track_hints: bool) -> int:  # fmt: skip
    layout = keypoint_layout(pipeline.skeleton, args.keep_neck)
    total = video.info.frames
    if total and args.fps and video.info.fps:
        total = int(total * min(1.0, args.fps / video.info.fps)) + 1
    if total and args.max_frames:
        total = min(total, args.max_frames)
    answered, start = 0, time.perf_counter()
    bar = tqdm(total=total, unit="frame", disable=args.out is None and args.render is None,
               file=sys.stderr)  # fmt: skip
    try:
        for frame in video.frames(args.fps):
            if args.max_frames and answered >= args.max_frames:
                break
            size = (frame.image.height, frame.image.width)
            hints = tracker.hint_boxes(frame.time_s, size) if track_hints else None
            result = pipeline.predict(frame.image.rgb, None, None, frame.image.size, hints)
            kept = [p for p in result.poses if p.score >= args.score_threshold]
            weak = [p for p in result.poses if p.score < args.score_threshold]
            tracked = tracker.update(kept, frame.time_s, frame.image.rgb, video.frame.scale, weak)
            if writer is not None:
                writer.write(_drawn(frame.image.rgb, tracked, pipeline, video))
            t = result.timings
            line = {"frame": frame.index, "time_s": round(frame.time_s, 4),
                    "persons": [{"track_id": tp.track_id, **pose_dict(tp.pose, layout)}
                                for tp in tracked],
                    "timings_ms": {"detect": round(t.detect * 1e3, 3),
                                   "forward": round(t.forward * 1e3, 3),
                                   "parse": round(t.parse * 1e3, 3)}}  # fmt: skip
            out.write(json.dumps(line, separators=(",", ":")) + "\n")
            answered += 1
            bar.update()
    except VideoError as exc:
        out.write(json.dumps({"error": {"code": exc.code, "message": str(exc)}}) + "\n")
        return 1
    finally:
        bar.close()
    elapsed = time.perf_counter() - start
    summary = {"frames": answered, "decoded": video.decoded, "dropped": video.decoded - answered,
               "tracks": tracker.ids_issued, "fps": round(answered / max(elapsed, 1e-9), 2),
               "video": video.info.as_dict(),
               "model": {"name": pipeline.pose.name, "version": pipeline.pose.version},
               "keypoint_names": list(layout.names)}  # fmt: skip
    out.write(json.dumps({"summary": summary}, separators=(",", ":")) + "\n")
    return 0


def _drawn(rgb: Any, tracked: list[TrackedPose], pipeline: PoseModel[Any], video: Video) -> Any:
    """The working-size frame with each tracked person drawn (poses are in the video's pixels)."""
    tracks = [(tp.track_id, tp.pose) for tp in tracked]
    return render_tracks(rgb, tracks, pipeline.skeleton, video.frame.scale)
