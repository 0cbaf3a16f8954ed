"""Model names (or Settings) -> a `PoseModel`: the pipeline of the pose model's manifest `kind`.

Every caller gets its pipeline here: `PIPELINES` is the one place a model kind meets its code.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from service.config import RuntimeConfig, Settings
from service.parsing import ParserConfig
from service.runtime.bottomup import BottomupPipeline
from service.runtime.engines import with_engine
from service.runtime.model_store import (
    LoadedModel,
    ModelStoreError,
    default_detector,
    has_box_head,
    load_model,
)
from service.runtime.protocol import PipelineConfig, PoseModel
from service.runtime.topdown import TopdownPipeline

PipelineClass = Callable[[LoadedModel, "LoadedModel | None", PipelineConfig], PoseModel[Any]]

# manifest kind -> its pipeline: maps + fields parsed in boxes, or one crop per person
PIPELINES: dict[str, PipelineClass] = {"pose": BottomupPipeline, "topdown": TopdownPipeline}
DEFAULT_DETECTOR = "detector-lite"  # for a pose model that names none and has no box head


def load_pipeline(pose_name: str, detector_name: str | None = None, device: str = "cpu",
                  store: Path | None = None,
                  config: PipelineConfig | None = None, engine: str = "torchscript",
                  onnx_cache: Path | None = None) -> PoseModel[Any]:  # fmt: skip
    """Both models from the store (None: `model_store.default_store()`) onto `device` -> the
    pipeline of the pose model's kind; no detector when `detector_name` is None or "".
    `engine` runs both models' networks (engines.with_engine: auto decides per model)."""
    pose = load_model(pose_name, store, device)
    if pose.kind not in PIPELINES:
        raise ModelStoreError(f"model {pose.name!r} is a {pose.kind}, not a pose model "
                              f"(kinds: {', '.join(PIPELINES)})")  # fmt: skip
    pose = with_engine(pose, engine, onnx_cache)
    detector = load_model(detector_name, store, device) if detector_name else None
    if detector is not None:
        detector = with_engine(detector, engine, onnx_cache)
    return PIPELINES[pose.kind](pose, detector, config or PipelineConfig())


def detector_for(runtime: RuntimeConfig) -> str | None:
    """The detector to serve with: None for none. The setting when set ("" = none); unset,
    the pose model's own choice: none for a model with a box head, the detector its manifest
    names (`default_detector`; "" names none), else detector-lite."""
    if runtime.detector_model is not None:
        return runtime.detector_model or None
    if has_box_head(runtime.pose_model, runtime.model_store):
        return None
    named = default_detector(runtime.pose_model, runtime.model_store)
    return DEFAULT_DETECTOR if named is None else named or None


def pipeline_config(runtime: RuntimeConfig, detector: str | None) -> PipelineConfig:
    """Settings -> PipelineConfig. Supplementing unset: on when a detector serves (a bottom-up
    model then still parses the people the detector missed; a top-down one ignores it)."""
    supplement = runtime.supplement_detector_boxes
    if supplement is None:
        supplement = detector is not None
    return PipelineConfig(
        scales=runtime.scales, fp16=runtime.fp16, detector_threshold=runtime.detector_threshold,
        flip=runtime.flip, working_size=runtime.working_size, person_scale=runtime.person_scale,
        brighten_dark=runtime.brighten_dark,
        parser=ParserConfig(supplement_detector_boxes=supplement), parser_name=runtime.parser,
    )  # fmt: skip


def from_settings(settings: Settings) -> PoseModel[Any]:
    """The service's pipeline: the models and options `settings` name."""
    runtime = settings.runtime()
    detector = detector_for(runtime)
    return load_pipeline(runtime.pose_model, detector, runtime.device, runtime.model_store,
                         pipeline_config(runtime, detector), runtime.engine,
                         runtime.onnx_cache)  # fmt: skip
