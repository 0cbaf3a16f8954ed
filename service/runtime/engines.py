"""A loaded TorchScript model -> the engine that runs its call: TorchScript itself, or its
networks on ONNX Runtime behind the same call (runtime/onnx_parts.py: torch tensors in, torch
tensors out; a detector keeps `detect`, the top-down model its landmarks and flags).

No ONNX file is bundled (each would stay in every clone's history twice): each network of a
model is derived from the TorchScript file once, at first load, into the user cache as
`<model sha256>.<part>.onnx`, checked against TorchScript (`deviation` <= `TOLERANCE`, each
network on its own sample and the whole call on the model's) and recorded by sha256 in
`<model sha256>.json` beside them; a file that no longer matches its record is derived again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, cast, get_args

import torch

from service.runtime.model_store import LoadedModel, ModelStoreError, sha256_of
from service.runtime.onnx_parts import OnnxNet, Part, recipe_for, sample_image

log = logging.getLogger(__name__)

Engine = Literal["torchscript", "onnxruntime"]
EngineSetting = Literal["auto", "torchscript", "onnxruntime"]
ENGINES: tuple[str, ...] = get_args(Engine)
ONNX_KINDS = ("pose", "detector", "topdown")  # every kind of the store has an ONNX engine
OPSET = 17
TOLERANCE = 1e-4  # max deviation of ONNX from TorchScript on the check samples
EXPORT_SIZE = (96, 128)  # (H, W) a dynamic part is exported at: it is checked at another
# the model's check sample: a batch of 2 at a size no stride divides (padding inside follows the
# input's size); top-down crops come at the model's crop size
SAMPLE_SHAPE = (2, 3, 101, 131)  # (B, 3, H, W)
CROP_SHAPE = (2, 3, 256, 256)


def default_cache() -> Path:
    """`$BOXPOSE_CACHE/onnx`, else `~/.cache/boxpose/onnx` (the importers' cache beside it)."""
    return Path(os.environ.get("BOXPOSE_CACHE", Path.home() / ".cache" / "boxpose")) / "onnx"


def session(path: Path, threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session of `path` on `threads` (default: torch's thread count)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    # no busy-waiting between runs: spinning threads would take the CPU from what runs next
    # (the PyTorch steps around a network, the parser, the other model, other processes)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def export_part(part: Part, path: Path) -> None:
    """A network -> an ONNX file with a dynamic batch (and height and width if `dynamic`)."""
    size = EXPORT_SIZE if part.dynamic else part.shape
    sample = Part(part.name, part.module, part.outputs, size, part.dynamic,
                  part.value_range).sample(1)  # fmt: skip
    axes = {0: "batch", 2: "height", 3: "width"} if part.dynamic else {0: "batch"}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with warnings.catch_warnings():  # the TorchScript-based exporter's deprecation notice
        warnings.simplefilter("ignore")
        torch.onnx.export(part.module, (sample,), str(tmp), dynamo=False, opset_version=OPSET,
                          input_names=["image"], output_names=list(part.outputs),
                          dynamic_axes={name: axes for name in ("image", *part.outputs)})
    tmp.replace(path)


def outputs_of(module: Any, image: torch.Tensor) -> Any:
    """What the pipelines take of a model: a detector's `detect` rows when it has them (the
    box columns and the alignment keypoints), else its call."""
    with torch.inference_mode():
        return module.detect(image) if hasattr(module, "detect") else module(image)


def deviation(got: Any, expected: Any) -> float:
    """max |got - expected| / max(1, max |expected|) per tensor, the largest over two equal
    structures: the absolute difference for outputs within +-1 (maps, fields, scores), relative
    to the output's largest value above (detector rows and landmarks in pixels, whose float32
    rounding grows with them)."""
    if isinstance(got, torch.Tensor):
        if got.shape != expected.shape:
            return float("inf")
        if not got.numel():
            return 0.0
        e = expected.detach().float().cpu()
        return float((got.float() - e).abs().max() / e.abs().max().clamp(min=1.0))
    return max((deviation(g, e) for g, e in zip(got, expected, strict=True)), default=0.0)


def check_image(model: LoadedModel) -> torch.Tensor:
    """The model's check sample (B, 3, H, W) in 0..255."""
    return sample_image(CROP_SHAPE if model.kind == "topdown" else SAMPLE_SHAPE)


def forward_ms(call: Callable[[torch.Tensor], Any], image: torch.Tensor, repeats: int) -> float:
    """Median ms of `call(image)` after one warm-up call."""
    times = []
    with torch.inference_mode():
        call(image)
        for _ in range(repeats):
            start = time.perf_counter()
            call(image)
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


@dataclasses.dataclass(frozen=True)
class OnnxRecord:
    """What `<model sha256>.json` records of a model's derived ONNX files."""

    model_sha256: str
    parts: dict[str, str]  # part name -> its file's sha256
    max_deviation: dict[str, float]  # part name -> on its sample; "model": the whole call
    sample: tuple[int, ...]
    opset: int
    torch: str
    # CPU ms per call on the model's sample, measured side by side when the files were derived
    cpu_ms: dict[str, float]

    @property
    def faster(self) -> Engine:
        return "onnxruntime" if self.cpu_ms["onnxruntime"] < self.cpu_ms["torchscript"] \
            else "torchscript"


@dataclasses.dataclass(frozen=True)
class OnnxModel:
    """A model's call on ONNX Runtime, with the files it runs."""

    module: torch.nn.Module  # the same call as the TorchScript module's
    paths: dict[str, Path]  # part name -> its ONNX file
    record: OnnxRecord


def part_path(root: Path, model: LoadedModel, part: str) -> Path:
    return root / f"{model.sha256}.{part}.onnx"


def onnx_for(model: LoadedModel, cache: Path | None = None,
             threads: int | None = None) -> OnnxModel:  # fmt: skip
    """The model's ONNX engine from the cache, derived and checked first when the cache holds
    no files recorded for this model (or a file differs from its record)."""
    if model.kind not in ONNX_KINDS:
        raise ModelStoreError(f"model {model.name!r} is a {model.kind}: ONNX Runtime runs "
                              f"{', '.join(ONNX_KINDS)} models only")  # fmt: skip
    root = cache or default_cache()
    recipe = recipe_for(model)
    paths = {p.name: part_path(root, model, p.name) for p in recipe.parts}
    record = _read_record(root / f"{model.sha256}.json")
    if record is not None and record.parts.keys() == paths.keys() \
            and all(path.is_file() and sha256_of(path) == record.parts[name]
                    for name, path in paths.items()):  # fmt: skip
        nets = {name: OnnxNet(session(path, threads)) for name, path in paths.items()}
        return OnnxModel(recipe.runner(nets), paths, record)
    return _derive(model, root, threads)


def _derive(model: LoadedModel, root: Path, threads: int | None) -> OnnxModel:
    log.info("deriving the ONNX files of %s into %s", model.name, root)
    recipe = recipe_for(model)
    nets, deviations, paths = {}, {}, {}
    for part in recipe.parts:
        paths[part.name] = path = part_path(root, model, part.name)
        try:
            export_part(part, path)
        except Exception as exc:  # torch.onnx raises many kinds; say which model and why
            raise ModelStoreError(f"model {model.name!r}: no ONNX export of {part.name} "
                                  f"({exc})") from exc  # fmt: skip
        nets[part.name] = OnnxNet(session(path, threads))
        with torch.inference_mode():
            deviations[part.name] = deviation(nets[part.name](part.sample()),
                                              part.module(part.sample()))  # fmt: skip
    module = recipe.runner(nets)
    image = check_image(model)
    deviations["model"] = deviation(outputs_of(module, image), outputs_of(model.module, image))
    worst = max(deviations, key=lambda k: deviations[k])
    if not deviations[worst] <= TOLERANCE:
        for path in paths.values():
            path.unlink(missing_ok=True)
        raise ModelStoreError(f"model {model.name!r}: ONNX differs from TorchScript by "
                              f"{deviations[worst]:.2e} > {TOLERANCE:.0e} ({worst})")  # fmt: skip
    ms = {"torchscript": forward_ms(model.module, image, 3),
          "onnxruntime": forward_ms(module, image, 3)}
    record = OnnxRecord(model.sha256, {k: sha256_of(p) for k, p in paths.items()}, deviations,
                        tuple(image.shape), OPSET, torch.__version__, ms)  # fmt: skip
    record_path = root / f"{model.sha256}.json"
    tmp = record_path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(dataclasses.asdict(record), indent=2) + "\n")
    tmp.replace(record_path)
    return OnnxModel(module, paths, record)


def _read_record(path: Path) -> OnnxRecord | None:
    try:
        raw = json.loads(path.read_text())
        raw["sample"] = tuple(raw["sample"])
        return OnnxRecord(**raw)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def choose(setting: str, model: LoadedModel, cache: Path | None = None) -> Engine:
    """The engine a model runs on. `auto`: TorchScript on a GPU; on a CPU the engine the
    manifest records as faster (`engines.cpu_faster`, from bench/engines.py --record), else the
    faster one measured when its ONNX files were derived (the cache's record), else
    TorchScript: auto never derives a file by itself."""
    if setting != "auto":
        if setting == "onnxruntime" and not model.device.startswith("cpu"):
            raise ModelStoreError("BOXPOSE_ENGINE=onnxruntime runs on the CPU: "
                                  f"set BOXPOSE_DEVICE=cpu (device is {model.device})")  # fmt: skip
        return cast(Engine, setting)
    if not model.device.startswith("cpu") or model.kind not in ONNX_KINDS:
        return "torchscript"
    recorded = model.manifest.engines.cpu_faster
    if recorded is not None:
        return recorded
    measured = _read_record((cache or default_cache()) / f"{model.sha256}.json")
    return measured.faster if measured is not None else "torchscript"


def with_engine(model: LoadedModel, setting: str, cache: Path | None = None) -> LoadedModel:
    """The model with its call on the chosen engine (the same call either way)."""
    if choose(setting, model, cache) == "torchscript":
        return model
    try:
        onnx = onnx_for(model, cache)
    except ModelStoreError as exc:
        if setting != "auto":
            raise
        log.warning("engine auto: %s; TorchScript runs it", exc)
        return model
    # the runner answers the calls the pipelines make of the scripted module
    return dataclasses.replace(model, module=cast(torch.jit.ScriptModule, onnx.module),
                               engine="onnxruntime")  # fmt: skip
