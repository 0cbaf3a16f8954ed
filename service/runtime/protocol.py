"""What every model kind's pipeline answers to: images (+ boxes) -> a batch forward -> per-image
parse -> poses in original pixels (`PoseModel`), and the inputs, outputs and configuration that
cross that seam.

The batch path is split in two so the worker can overlap them: `forward_batch` runs the models
once per batch (one thread owns the device), `parse` turns one image's output into poses (CPU, a
thread pool). `predict` chains both for one image, without a server. Each kind has its own
per-image output type (bottomup.ImageMaps, topdown.PersonCrops); only its own pipeline reads it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

import numpy as np

from service.parsing import ParserConfig
from service.runtime.model_store import LoadedModel
from service.skeleton import Skeleton
from service.types import Box, Pose

Item = TypeVar("Item")


@dataclass(frozen=True)
class PipelineConfig:
    scales: tuple[float, ...] = (1.0,)  # default when a request names none (bottom-up only)
    fp16: bool = False
    detector_threshold: float | None = None  # None: the detector manifest's, else 0.3
    max_pad_ratio: float = 1.3  # padded / real pixels allowed inside one forward group
    parser: ParserConfig = field(default_factory=ParserConfig)
    parser_name: str = "boxes"  # a key of service.parsing.PARSERS; "greedy" ignores boxes
    flip: bool = False  # also run the mirrored image and average (bottom-up; 2x forward time)
    # Long side of the image the models see; None: the pose manifest's `working_size`, else
    # DEFAULT_WORKING_SIZE; 0: the whole image.
    working_size: int | None = None
    # Run the pose net at the scale the pose manifest's `person_scale` asks for (person_scale.py);
    # False: at the requested scales of the working image.
    person_scale: bool = True
    # Pose passes per image at most, overriding the manifest's `person_scale.max_passes` (1: one
    # pass at the median person's scale, as before per-group passes); None: the manifest's.
    max_pose_passes: int | None = None
    # Brighten a very dark image before the models see it (runtime/exposure.py).
    brighten_dark: bool = True


@dataclass(frozen=True)
class ImageInput:
    image: np.ndarray  # (H', W', 3) uint8 RGB: the original, or a smaller rendition of it
    boxes: list[Box] | None  # client boxes in original pixels; None = find them
    scales: tuple[float, ...]
    size: tuple[int, int] | None = None  # (H, W) of the original; None = the image's own
    # Where the people tracked in a video's previous frame are now (original pixels, source
    # "track"); a bottom-up model parses them in these boxes first (ignored with client boxes
    # and by top-down models).
    hints: list[Box] | None = None


@dataclass(frozen=True)
class BatchOutput(Generic[Item]):
    images: list[Item]  # one per input, in order: the kind's own per-image output
    detect_s: float
    forward_s: float


@dataclass(frozen=True)
class StageTimings:
    detect: float = 0.0  # seconds
    forward: float = 0.0
    parse: float = 0.0


@dataclass(frozen=True)
class PipelineResult:
    poses: list[Pose]
    timings: StageTimings


class PoseModel(Protocol[Item]):
    """A pose model (+ an optional detector) on one device, as the worker and the API use it."""

    config: PipelineConfig
    pose: LoadedModel
    detector: LoadedModel | None
    skeleton: Skeleton
    working_size: int

    @property
    def models(self) -> list[LoadedModel]: ...

    def warmup(self, height: int = 240, width: int = 320) -> None: ...

    def forward_batch(self, inputs: list[ImageInput]) -> BatchOutput[Item]:
        """The model part of a batch: every model run once over the batch."""
        ...

    def parse(self, item: Item) -> list[Pose]:
        """One image's output -> poses in original pixels (client boxes answered in order)."""
        ...

    def predict(self, image_rgb: np.ndarray, boxes: list[Box] | None = None,
                scales: tuple[float, ...] | None = None, size: tuple[int, int] | None = None,
                hints: list[Box] | None = None) -> PipelineResult: ...  # fmt: skip

    def detect_missing(self, inputs: list[ImageInput]) -> list[list[Box] | None]:
        """Client boxes as given; found boxes (original pixels) for the others; None when
        the model finds none before parsing."""
        ...


def predict_one(model: PoseModel[Item], image_rgb: np.ndarray, boxes: list[Box] | None,
                scales: tuple[float, ...], size: tuple[int, int] | None,
                hints: list[Box] | None = None) -> PipelineResult:  # fmt: skip
    """(H', W', 3) uint8 RGB image of an (H, W) original (`size`; None: its own) -> poses in
    the original's pixels: one image through `forward_batch` then `parse`, no server."""
    out = model.forward_batch([ImageInput(image_rgb, boxes, scales, size, hints)])
    start = time.perf_counter()
    poses = model.parse(out.images[0])
    return PipelineResult(poses, StageTimings(out.detect_s, out.forward_s,
                                              time.perf_counter() - start))
