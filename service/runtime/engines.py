"""A loaded TorchScript pose net -> the engine that runs its forward: TorchScript itself, or
ONNX Runtime on the CPU behind the same call (`OnnxModule`: torch tensors in, torch tensors out).

No ONNX file is bundled (each would stay in every clone's history twice): it is derived from the
TorchScript model once, at first load, into the user cache as `<model sha256>.onnx`, checked
against TorchScript on a sample (max |difference| <= `TOLERANCE`) and recorded by its own sha256
in `<model sha256>.json` beside it; a file that no longer matches its record is derived again.
Only bottom-up pose nets (manifest kind `pose`: image -> maps, fields) have an ONNX engine.
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

import numpy as np
import torch

from service.runtime.model_store import LoadedModel, ModelStoreError, sha256_of

log = logging.getLogger(__name__)

Engine = Literal["torchscript", "onnxruntime"]
EngineSetting = Literal["auto", "torchscript", "onnxruntime"]
ENGINES: tuple[str, ...] = get_args(Engine)
ONNX_KINDS = ("pose",)  # kinds whose net ONNX Runtime can run: (B, 3, H, W) -> (maps, fields)
OPSET = 17
TOLERANCE = 1e-4  # max |ONNX - TorchScript| on the check sample
# The check sample: a batch of 2 at a size no stride divides, so the padding inside is exported
# as computed from the input's size, not as constants.
SAMPLE_SHAPE = (2, 3, 101, 131)  # (B, 3, H, W)
OUTPUT_NAMES = ("maps", "fields")


def default_cache() -> Path:
    """`$BOXPOSE_CACHE/onnx`, else `~/.cache/boxpose/onnx` (the importers' cache beside it)."""
    return Path(os.environ.get("BOXPOSE_CACHE", Path.home() / ".cache" / "boxpose")) / "onnx"


class OnnxModule:
    """An ONNX Runtime session with the TorchScript module's call: (B, 3, H, W) float RGB
    0..255 -> (maps (B, J+1, h, w), fields (B, 2C, h, w)) as CPU float32 tensors."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        self.path = path
        self.session = ort.InferenceSession(str(path), options,
                                            providers=["CPUExecutionProvider"])  # fmt: skip

    def __call__(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        batch = image.detach().float().cpu().contiguous().numpy()  # (B, 3, H, W)
        outputs = self.session.run(None, {"image": batch})
        return tuple(torch.from_numpy(np.asarray(out)) for out in outputs)

    def eval(self) -> OnnxModule:
        return self


def exportable(model: LoadedModel) -> torch.nn.Module:
    """The module torch.onnx exports for a pose net: the project's own networks (a manifest
    `preset` of service.network.PRESETS) rebuilt eagerly with the TorchScript file's weights
    (their scripted forward keeps a list of per-stage tuples, which ONNX cannot lower); any
    other (an imported net, one tensor path) the scripted module as it is."""
    from service.network import PRESETS, InferenceNet, PoseNet, build_network

    preset = model.manifest.preset
    if preset in PRESETS and model.skeleton is not None:
        staged = build_network(preset, model.skeleton)
        if isinstance(staged, PoseNet):
            net = InferenceNet(staged).eval()
            net.load_state_dict(model.module.state_dict())
            return net
    return cast(torch.nn.Module, model.module)


def export_onnx(model: LoadedModel, path: Path) -> None:
    """A pose net -> an ONNX file with dynamic batch, height and width."""
    sample = torch.zeros(1, 3, 96, 128)
    dynamic = {0: "batch", 2: "height", 3: "width"}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with warnings.catch_warnings():  # the TorchScript-based exporter's deprecation notice
        warnings.simplefilter("ignore")
        torch.onnx.export(exportable(model), (sample,), str(tmp), dynamo=False,
                          opset_version=OPSET, input_names=["image"],
                          output_names=list(OUTPUT_NAMES),
                          dynamic_axes={"image": dynamic, "maps": dynamic,
                                        "fields": dynamic})  # fmt: skip
    tmp.replace(path)


def sample_image(shape: tuple[int, ...] = SAMPLE_SHAPE) -> torch.Tensor:
    """A fixed (B, 3, H, W) image in 0..255: smooth gradients plus seeded noise."""
    generator = torch.Generator().manual_seed(0)
    _, _, height, width = shape
    ramp = torch.linspace(0, 255, width).expand(height, width)
    return ((ramp + torch.rand(shape, generator=generator) * 128) % 256).float()


def max_difference(model: LoadedModel, onnx: OnnxModule, image: torch.Tensor) -> float:
    """max |ONNX - TorchScript| over every output of `image`."""
    with torch.inference_mode():
        expected = model.module(image.to(model.device))
    got = onnx(image)
    return max(float((g - e.float().cpu()).abs().max()) for g, e in zip(got, expected,
                                                                        strict=True))


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
    """What `<model sha256>.json` records of a derived ONNX file."""

    model_sha256: str
    onnx_sha256: str
    max_abs_diff: float
    sample: tuple[int, ...]
    opset: int
    torch: str
    # CPU ms per forward of the sample, measured side by side when the file was derived
    cpu_ms: dict[str, float]

    @property
    def faster(self) -> Engine:
        return "onnxruntime" if self.cpu_ms["onnxruntime"] < self.cpu_ms["torchscript"] \
            else "torchscript"


def onnx_for(model: LoadedModel, cache: Path | None = None) -> tuple[OnnxModule, OnnxRecord]:
    """The pose net's ONNX engine from the cache, derived and checked first when the cache
    holds no file recorded for this model (or the file differs from its record)."""
    if model.kind not in ONNX_KINDS:
        raise ModelStoreError(f"model {model.name!r} is a {model.kind}: ONNX Runtime runs "
                              f"{', '.join(ONNX_KINDS)} nets only")  # fmt: skip
    root = cache or default_cache()
    path, record_path = root / f"{model.sha256}.onnx", root / f"{model.sha256}.json"
    record = _read_record(record_path)
    if record is not None and path.is_file() and sha256_of(path) == record.onnx_sha256:
        return OnnxModule(path), record
    return _derive(model, path, record_path)


def _derive(model: LoadedModel, path: Path, record_path: Path) -> tuple[OnnxModule, OnnxRecord]:
    log.info("deriving the ONNX file of %s into %s", model.name, path)
    try:
        export_onnx(model, path)
    except Exception as exc:  # torch.onnx raises many kinds; say which model and why
        raise ModelStoreError(f"model {model.name!r}: no ONNX export ({exc})") from exc
    onnx = OnnxModule(path)
    image = sample_image()
    diff = max_difference(model, onnx, image)
    if not diff <= TOLERANCE:
        path.unlink(missing_ok=True)
        raise ModelStoreError(f"model {model.name!r}: the ONNX file differs from TorchScript "
                              f"by {diff:.2e} > {TOLERANCE:.0e} on the check sample")  # fmt: skip
    ms = {"torchscript": forward_ms(model.module, image, 3),
          "onnxruntime": forward_ms(onnx, image, 3)}
    record = OnnxRecord(model.sha256, sha256_of(path), diff, SAMPLE_SHAPE, OPSET,
                        torch.__version__, ms)  # fmt: skip
    tmp = record_path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(dataclasses.asdict(record), indent=2) + "\n")
    tmp.replace(record_path)
    return onnx, record


def _read_record(path: Path) -> OnnxRecord | None:
    try:
        raw = json.loads(path.read_text())
        raw["sample"] = tuple(raw["sample"])
        return OnnxRecord(**raw)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def choose(setting: str, model: LoadedModel, cache: Path | None = None) -> Engine:
    """The engine a model runs on. `auto`: TorchScript on a GPU and for kinds without an ONNX
    engine; on a CPU the engine the manifest records as faster (`engines.cpu_faster`, from
    bench/engines.py --record), else the faster one measured when its ONNX file was derived
    (the cache's record), else TorchScript: auto never derives a file by itself."""
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
    """The model with its forward on the chosen engine (the same call either way)."""
    if choose(setting, model, cache) == "torchscript":
        return model
    try:
        onnx, _ = onnx_for(model, cache)
    except ModelStoreError as exc:
        if setting != "auto":
            raise
        log.warning("engine auto: %s; TorchScript runs it", exc)
        return model
    # OnnxModule answers the call the pipelines make of a pose net's module
    return dataclasses.replace(model, module=cast(torch.jit.ScriptModule, onnx),
                               engine="onnxruntime")  # fmt: skip
