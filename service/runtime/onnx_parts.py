"""A loaded TorchScript model -> the networks inside it as eager modules that torch.onnx exports
(`Part`), and the model's call rebuilt around ONNX Runtime sessions of them (`Recipe.runner`).

A bottom-up pose net is one network, exported whole (image -> maps, fields). The detectors and
the top-down crops model wrap their network in steps whose shapes follow the data (a resize to a
working size, top-K, weighted NMS, the union's check on crops): those steps stay in PyTorch, run
by the project's own wrapper class, eagerly, with each network call going to ONNX Runtime
(`OnnxNet`). Networks are rebuilt eagerly with the TorchScript file's weights: a scripted
network cannot be traced from another module, and ONNX cannot lower its list outputs.

The class the TorchScript file was scripted from (`original_name`) picks the recipe (`RECIPES`);
a pose net of any class has one (`pose_recipe`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import numpy as np
import torch
from torch import nn

from service.runtime.model_store import LoadedModel, ModelStoreError

Unpack = Callable[[tuple[torch.Tensor, ...]], Any]
Net = TypeVar("Net", bound=nn.Module)


@dataclass(frozen=True)
class Part:
    """One network of a model, as torch.onnx exports it: (B, 3, H, W) -> a tuple of tensors."""

    name: str  # the file is `<model sha256>.<name>.onnx`
    module: nn.Module  # eager, in eval mode
    outputs: tuple[str, ...]
    shape: tuple[int, int]  # (H, W) of the check sample (and of every input when not `dynamic`)
    dynamic: bool  # H and W may vary (the batch always may)
    value_range: tuple[float, float] = (0.0, 255.0)  # of the check sample's values

    def __post_init__(self) -> None:
        # torch.onnx.export leaves a module in the mode it found it: a wrapper left in
        # training mode would turn its batch norms to batch statistics after the export
        self.module.eval()

    def sample(self, batch: int = 2) -> torch.Tensor:
        """(batch, 3, H, W) in `value_range`: smooth gradients plus seeded noise."""
        low, high = self.value_range
        return low + sample_image((batch, 3, *self.shape)) / 255.0 * (high - low)


def sample_image(shape: tuple[int, ...]) -> torch.Tensor:
    """A fixed (B, 3, H, W) image in 0..255: smooth gradients plus seeded noise."""
    generator = torch.Generator().manual_seed(0)
    _, _, height, width = shape
    ramp = torch.linspace(0, 255, width).expand(height, width)
    return ((ramp + torch.rand(shape, generator=generator) * 128) % 256).float()


class OnnxNet(nn.Module):
    """An ONNX Runtime session called as the network it was exported from: CPU float32 torch
    tensors in and out; `unpack` turns the output tuple into the network's own result type."""

    def __init__(self, session: Any, unpack: Unpack | None = None) -> None:
        super().__init__()
        self.session = session
        self.input_name = session.get_inputs()[0].name
        self.unpack = unpack

    def forward(self, image: torch.Tensor) -> Any:
        batch = image.detach().float().cpu().contiguous().numpy()  # (B, 3, H, W)
        outputs = self.session.run(None, {self.input_name: batch})
        got = tuple(torch.from_numpy(np.asarray(out)) for out in outputs)
        return self.unpack(got) if self.unpack is not None else got


class LandmarkOnnx(OnnxNet):
    """The landmark network's `pose` call (all the top-down module makes of it)."""

    def pose(self, image: torch.Tensor) -> Any:
        return self(image)


@dataclass(frozen=True)
class Recipe:
    """A model's parts, and its call rebuilt from one `OnnxNet` per part (by part name)."""

    parts: Sequence[Part]
    runner: Callable[[dict[str, OnnxNet]], nn.Module]


# ---- the networks as torch.onnx exports them: tensors in, a tuple of tensors out


class _Tuple(nn.Module):
    """A network whose result is a NamedTuple -> a plain tuple."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.net(x))


class _LandmarkPose(_Tuple):
    """The landmark network's pose outputs: landmarks, pose flag, heatmaps (no segmentation)."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(cast(Any, self.net).pose(x))


class _LastStage(_Tuple):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        stages, raw_boxes = self.net(x)
        maps, fields = stages[-1]
        return maps, fields, raw_boxes


def _weights(net: Net, scripted: Any) -> Net:
    """The eager `net` holding the scripted module's weights (strict: the same layers)."""
    try:
        net.load_state_dict(scripted.state_dict())
    except RuntimeError as exc:
        raise ModelStoreError(f"the eager {type(net).__name__} differs from the TorchScript "
                              f"file's layers: {str(exc)[:300]}") from exc  # fmt: skip
    return net.eval()


# ---- recipes per scripted class


def exportable(model: LoadedModel) -> nn.Module:
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
    return cast(nn.Module, model.module)


def pose_recipe(model: LoadedModel) -> Recipe:
    """A bottom-up pose net, whole: (B, 3, H, W) 0..255 -> maps, fields; one with its own box
    head (`_box_head_pose`): its trunk."""
    if getattr(model.module, "original_name", None) == "MoveNetFields":
        return _box_head_pose(model.module)
    part = Part("net", exportable(model), ("maps", "fields"), (101, 131), dynamic=True)
    return Recipe([part], lambda nets: nets["net"])


def _box_head_pose(scripted: Any) -> Recipe:
    """movenet-fields (service/network/movenet_fields.py): MoveNet's trunk (its six heads and
    the FPN, imported as one straight-line graph) in ONNX; the padding to a multiple of 32, the
    small field head (scripted) and the box decoding (top-K) around it in PyTorch, by the
    module's own class."""
    from service.network.movenet import HEAD_NODES
    from service.network.movenet_fields import MoveNetFields

    multiple = int(scripted.pad_multiple)
    part = Part("trunk", scripted.trunk, (*HEAD_NODES, "fpn"), (3 * multiple, 4 * multiple),
                dynamic=True)  # fmt: skip

    def runner(nets: dict[str, OnnxNet]) -> nn.Module:
        return MoveNetFields(nets["trunk"], scripted.head, int(scripted.max_boxes)).eval()

    return Recipe([part], runner)


def _detector(scripted: Any, model: LoadedModel) -> Recipe:
    """detector-lite's kind (service/detector/decode.py): the backbone and heads in ONNX."""
    from service.detector.config import DetectorConfig
    from service.detector.decode import InferenceDetector
    from service.detector.net import DetectorNet, HeadOutputs

    raw: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                           for k, v in model.manifest["network"].items()}  # fmt: skip
    config = DetectorConfig(**raw)
    net = _weights(DetectorNet(config), scripted.net)

    def runner(nets: dict[str, OnnxNet]) -> nn.Module:
        module = InferenceDetector(net).eval()
        module.net = nets["net"]  # type: ignore[assignment]  # called as the DetectorNet
        return module

    # its input: normalised, padded to the backbone stride (not a multiple here: padding inside)
    part = Part("net", _Tuple(net), ("heatmap", "size", "offset"), (96, 160), dynamic=True,
                value_range=(-2.2, 2.7))  # fmt: skip
    nets_unpack = {"net": lambda out: HeadOutputs(*out)}
    return Recipe([part], _unpacking(runner, nets_unpack))


def _blaze_detector(scripted: Any, prefix: str = "") -> tuple[Part, Callable[[OnnxNet], nn.Module]]:
    """BlazePose's detector (service/detector/blazepose.py): the 224 x 224 network in ONNX."""
    from service.detector.blazepose import InferenceBlazeDetector
    from service.network.blazepose_detector import INPUT_SIZE, BlazePoseDetectorNet

    net = _weights(BlazePoseDetectorNet(), scripted.net)
    part = Part(prefix or "net", net, ("regressors", "classifiers"), (INPUT_SIZE, INPUT_SIZE),
                dynamic=False, value_range=(-1.0, 1.0))  # fmt: skip

    def runner(onnx: OnnxNet) -> nn.Module:
        return InferenceBlazeDetector(onnx, scripted.score_threshold,  # type: ignore[arg-type]
                                      scripted.iou_threshold, scripted.max_detections).eval()

    return part, runner


def _blaze_recipe(scripted: Any, model: LoadedModel) -> Recipe:
    part, runner = _blaze_detector(scripted)
    return Recipe([part], lambda nets: runner(nets["net"]))


def _union(scripted: Any, model: LoadedModel) -> Recipe:
    """detector-union (service/detector/union.py): BlazePose's detector network and the
    supplement's bottom-up network in ONNX; thresholds, box decoding and crops in PyTorch."""
    from service.detector.union import DetectorUnion
    from service.network.bottomup import BottomUpConfig, BottomUpInference, BottomUpNet, BoxDecoder
    from service.network.trunks import LiteTrunk, Trunk, blazepose_trunk
    from service.skeleton import SKELETONS

    primary, primary_runner = _blaze_detector(scripted.primary, "primary")
    supplement = scripted.supplement
    # as `boxpose export --preset bottomup` builds it (service/training/export_command.py)
    lite = any(k.startswith("net.trunk.backbone.") for k in supplement.state_dict())
    trunk: Trunk = LiteTrunk() if lite else blazepose_trunk()
    skeleton = next((s for s in SKELETONS.values() if s.num_maps == supplement.net.num_maps),
                    None)  # fmt: skip
    if skeleton is None:
        raise ModelStoreError(f"no skeleton has the supplement's {supplement.net.num_maps} maps")
    net = _weights(BottomUpNet(BottomUpConfig(), skeleton, trunk, trunk.channels,
                               trunk.pad_multiple), supplement.net)  # fmt: skip
    second = Part("supplement", _LastStage(net), ("maps", "fields", "boxes"), (101, 131),
                  dynamic=True)  # fmt: skip
    decode = supplement.decode

    def runner(nets: dict[str, OnnxNet]) -> nn.Module:
        inference = BottomUpInference(net)
        inference.net = nets["supplement"]  # type: ignore[assignment]
        inference.decode = BoxDecoder(decode.stride, decode.max_boxes, decode.threshold)
        return DetectorUnion(primary_runner(nets["primary"]), inference.eval(),
                             scripted.primary_threshold, scripted.supplement_threshold,
                             scripted.max_iou, scripted.long_side, scripted.verify_grow,
                             scripted.verify_threshold, scripted.verify_size).eval()  # fmt: skip

    return Recipe([primary, second], _unpacking(runner, {
        "supplement": lambda out: ([(out[0], out[1])], out[2])}))  # fmt: skip


def _topdown(scripted: Any, model: LoadedModel) -> Recipe:
    """BlazePose's landmark model (service/network/blazepose_topdown.py): the network's pose
    outputs in ONNX; the heatmap refinement in PyTorch."""
    from service.network.blazepose import INPUT_SIZE, BlazePoseLandmarkNet
    from service.network.blazepose_topdown import TopdownLandmarks

    net = _weights(BlazePoseLandmarkNet(), scripted.net)
    part = Part("net", _LandmarkPose(net), ("landmarks", "pose_flag", "heatmaps"),
                (INPUT_SIZE, INPUT_SIZE), dynamic=False, value_range=(0.0, 1.0))  # fmt: skip

    def runner(nets: dict[str, OnnxNet]) -> nn.Module:
        landmark = LandmarkOnnx(nets["net"].session)
        return TopdownLandmarks(landmark, scripted.kernel,  # type: ignore[arg-type]
                                scripted.min_confidence).eval()

    return Recipe([part], runner)


def _unpacking(runner: Callable[[dict[str, OnnxNet]], nn.Module],
               unpack: dict[str, Unpack]) -> Callable[[dict[str, OnnxNet]], nn.Module]:  # fmt: skip
    """The runner, handed its parts' sessions with the network's own result types."""
    def build(nets: dict[str, OnnxNet]) -> nn.Module:
        return runner({k: OnnxNet(n.session, unpack.get(k)) for k, n in nets.items()})

    return build


# scripted class (`original_name`) -> its recipe; pose nets: `pose_recipe`
RECIPES: dict[str, Callable[[Any, LoadedModel], Recipe]] = {
    "InferenceDetector": _detector,
    "InferenceBlazeDetector": _blaze_recipe,
    "DetectorUnion": _union,
    "TopdownLandmarks": _topdown,
}


def recipe_for(model: LoadedModel) -> Recipe:
    """The model's parts and runner; ModelStoreError for a module no recipe knows."""
    if model.kind == "pose":
        return pose_recipe(model)
    name = getattr(model.module, "original_name", type(model.module).__name__)
    if name not in RECIPES:
        raise ModelStoreError(f"model {model.name!r}: no ONNX recipe for a {model.kind} "
                              f"scripted from {name} (known: {', '.join(RECIPES)})")  # fmt: skip
    return RECIPES[name](model.module, model)
