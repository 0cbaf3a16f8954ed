"""Loaded models + PipelineConfig -> what every pipeline kind settles first: the models checked
for their kinds, the device and precision, the working size, the detector threshold."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from service.runtime.model_store import LoadedModel, ModelStoreError
from service.runtime.protocol import PipelineConfig
from service.runtime.working import DEFAULT_WORKING_SIZE
from service.skeleton import Skeleton


@dataclass(frozen=True)
class Models:
    """A pose model of one kind and an optional detector, on one device at one precision."""

    pose: LoadedModel
    detector: LoadedModel | None
    skeleton: Skeleton
    device: torch.device
    dtype: torch.dtype
    working_size: int  # long side of the image the models see (0: the whole image)
    detector_threshold: float

    @classmethod
    def of(cls, pose: LoadedModel, detector: LoadedModel | None, config: PipelineConfig,
           kind: str) -> Models:  # fmt: skip
        """Check the kinds, cast to fp16 when asked (modules are changed in place: each
        pipeline loads its own), settle the working size and the detector threshold."""
        if pose.kind != kind or pose.skeleton is None:
            raise ModelStoreError(f"model {pose.name!r} is a {pose.kind}, not a {kind} model")
        if detector is not None and detector.kind != "detector":
            raise ModelStoreError(f"model {detector.name!r} is a {detector.kind}, not a detector")
        if config.fp16:
            for model in (pose, detector):
                if model is not None:
                    model.module.half()
        return cls(pose, detector, pose.skeleton, torch.device(pose.device),
                   torch.float16 if config.fp16 else torch.float32,
                   working_size(pose, config.working_size),
                   detector_threshold(detector, config.detector_threshold))  # fmt: skip

    @property
    def loaded(self) -> list[LoadedModel]:
        return [self.pose] + ([self.detector] if self.detector is not None else [])

    def sync(self) -> None:
        """Wait for the device (timings measure the work, not its queueing)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def working_size(pose: LoadedModel, configured: int | None) -> int:
    """The configured working size, else the pose manifest's `working_size`, else 848."""
    if configured is not None:
        return configured
    chosen = pose.manifest.working_size
    return chosen if chosen is not None else DEFAULT_WORKING_SIZE


def detector_threshold(detector: LoadedModel | None, configured: float | None) -> float:
    """The configured threshold, else the manifest's recommended one (best F1 on validation),
    else the module's own floor (`internal.score_threshold`), else 0.3."""
    if configured is not None:
        return configured
    if detector is None:
        return 0.3
    manifest = detector.manifest
    if manifest.recommended_score_threshold is not None:
        return manifest.recommended_score_threshold
    floor = manifest.internal.score_threshold
    return floor if floor is not None else 0.3
