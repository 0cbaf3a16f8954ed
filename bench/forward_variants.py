"""The ways one stored model can run (TorchScript, eager, channels-last, frozen, batches) and
where its forward time goes (torch.profiler), for `bench/forward_hardware.py`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from service.network.net import InferenceNet, build_network
from service.runtime.model_store import LoadedModel


@dataclass(frozen=True)
class Variant:
    name: str
    module: Callable[[torch.Tensor], object]
    batch: int
    channels_last: bool = False  # the input's memory layout


def _script(model: LoadedModel) -> torch.jit.ScriptModule:
    """A fresh copy of the stored TorchScript module (so in-place changes stay local)."""
    path = model.path / model.manifest.file if model.path.is_dir() else model.path
    module = torch.jit.load(str(path), map_location="cpu")
    return module.eval()


def _eager(model: LoadedModel) -> torch.nn.Module | None:
    """The eager network of a `PoseNet` preset with the stored weights; None when the bench has
    no eager builder for this network (BlazePose, box-head nets: TorchScript only here)."""
    preset = model.manifest.get("preset")
    if model.kind != "pose" or model.skeleton is None or model.manifest.box_head is not None:
        return None
    try:
        net = InferenceNet(build_network(str(preset), model.skeleton)).eval()
        net.load_state_dict(model.module.state_dict())
    except (ValueError, RuntimeError, KeyError):
        return None
    return net


def _channels_last(module: torch.nn.Module) -> torch.nn.Module:
    return module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]


def variants_of(model: LoadedModel, batches: list[int], every: bool) -> list[Variant]:
    """As served (TorchScript, channels-last input as `pad_batch` makes it) at each batch, and
    with a contiguous NCHW input (the layout before); with `every` also the weights made
    channels-last too, a frozen + optimised copy, and the eager network (both layouts)."""
    name = model.name
    out = [Variant(f"{name} TorchScript" + (f" b{b}" if b > 1 else ""), model.module, b, True)
           for b in batches]  # fmt: skip
    out.append(Variant(f"{name} TorchScript, NCHW input", model.module, 1, False))
    if not every:
        return [out[0], out[-1]]
    out.append(Variant(f"{name} TorchScript, channels-last weights too",
                       _channels_last(_script(model)), 1, True))  # fmt: skip
    try:  # a module with other methods or unfreezable attributes may refuse
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(_script(model)))
        out.append(Variant(f"{name} TorchScript frozen + optimize_for_inference", frozen, 1,
                           True))  # fmt: skip
    except RuntimeError as exc:
        print(f"{name}: no frozen variant ({type(exc).__name__}: {exc})", flush=True)
    eager = _eager(model)
    if eager is not None:
        out.append(Variant(f"{name} eager", eager, 1, True))
        out.append(Variant(f"{name} eager, NCHW input", eager, 1, False))
    return out


@dataclass(frozen=True)
class OpClass:
    name: str  # a convolution kind ("dense 3x3", "depthwise 5x5", "transposed 4x4", ...)
    calls: int  # per forward
    seconds: float  # CPU seconds per forward, each distinct convolution timed on its own
    gflop: float  # per forward


@dataclass(frozen=True)
class ConvCall:
    """One aten::convolution of a forward, as the profiler recorded it."""

    image: tuple[int, ...]  # (N, C, H, W)
    weight: tuple[int, ...]
    bias: bool
    args: tuple  # stride, padding, dilation, transposed, output_padding, groups

    @property
    def kind(self) -> str:
        size = f"{self.weight[2]}x{self.weight[3]}"
        groups = self.args[5]
        if self.args[3]:
            return f"transposed {size}"
        if self.image[1] == 3:
            return f"stem {size}"
        if groups > 1 and groups == self.image[1]:
            return f"depthwise {size}"
        return "1x1" if size == "1x1" else f"dense {size}"

    def call(self) -> Callable[[], torch.Tensor]:
        generator = torch.Generator().manual_seed(0)
        x = torch.rand(self.image, generator=generator)
        x = x.contiguous(memory_format=torch.channels_last)  # as the service feeds it
        w = torch.rand(self.weight, generator=generator)
        b = torch.rand(self.weight[1 if self.args[3] else 0] * (self.args[5] if self.args[3]
                       else 1), generator=generator) if self.bias else None  # fmt: skip
        return lambda: torch.convolution(x, w, b, *self.args)


def record_convolutions(module: Callable[[torch.Tensor], object],
                        x: torch.Tensor) -> list[ConvCall]:  # fmt: skip
    """Every aten::convolution of one forward, with its shapes and arguments."""
    from torch.profiler import ProfilerActivity, profile

    with torch.inference_mode(), profile(activities=[ProfilerActivity.CPU],
                                         record_shapes=True) as prof:  # fmt: skip
        module(x)
    calls = []
    for e in prof.events():
        if e.name != "aten::convolution":
            continue
        shapes, concrete = e.input_shapes, e.concrete_inputs
        calls.append(ConvCall(tuple(shapes[0]), tuple(shapes[1]), bool(shapes[2]),
                              tuple(tuple(a) if isinstance(a, list) else a
                                    for a in concrete[3:9])))  # fmt: skip
    return calls


def conv_breakdown(module: Callable[[torch.Tensor], object], x: torch.Tensor,
                   repeats: int = 3) -> list[OpClass]:  # fmt: skip
    """The forward's convolutions by kind: each distinct one timed alone (thread CPU time, the
    fastest of `repeats`) and its FLOPs counted, times how often the forward runs it."""
    calls = record_convolutions(module, x)
    rows: dict[str, list[float]] = {}
    with torch.inference_mode():
        for conv in set(calls):
            count = calls.count(conv)
            run = conv.call()
            run()  # warm-up
            best = float("inf")
            for _ in range(repeats):
                start = time.thread_time()
                run()
                best = min(best, time.thread_time() - start)
            with FlopCounterMode(display=False) as counter:
                run()
            row = rows.setdefault(conv.kind, [0, 0.0, 0.0])
            row[0] += count
            row[1] += count * best
            row[2] += count * counter.get_total_flops() / 1e9
    return sorted((OpClass(k, int(r[0]), r[1], r[2]) for k, r in rows.items()),
                  key=lambda c: -c.seconds)  # fmt: skip
