"""A frozen TensorFlow Graph (tf_graphdef) -> a PyTorch module with named, trainable parameters.

The graph is rebuilt node by node as a torch.fx graph, so the module's `forward` is plain code
that TorchScript compiles and whose parameters can be fine-tuned:

- `Conv2D` and `DepthwiseConv2dNative` become `nn.Conv2d` (HWIO / HWC1 weights -> OIHW; a
  depthwise one has `groups` = its channels), named after the TF scope of the node
  (`MobilenetV1/Conv2d_1_depthwise/depthwise` -> `MobilenetV1.Conv2d_1_depthwise`);
- a `BiasAdd` right after a convolution (batch norm folded into a bias) becomes that
  convolution's bias; any other `BiasAdd` is its own `Bias` module;
- `Relu`, `ConcatV2` (NHWC axis -> NCHW axis) and `MaxPool` are functions;
- TF's SAME padding is `same_pad`: total max((ceil(n/s) - 1) s + k - n, 0), the smaller half
  before (stride 2 on an even size pads 0 before and 1 after). Odd kernels at stride 1 are
  symmetric and use the convolution's own padding.

Activations are NCHW inside the module; the graph's input Placeholder is the module's input
and the named output node its output. Any other op, a missing constant or a weight of the wrong
rank is refused naming the node.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch import fx, nn

from service.errors import BoxposeError
from service.importers.tf_graphdef import Graph, Node

SUPPORTED_OPS = ("Placeholder", "Const", "Identity", "Conv2D", "DepthwiseConv2dNative",
                 "BiasAdd", "Relu", "ConcatV2", "MaxPool")  # fmt: skip
_NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1, -1: 1, -2: 3, -3: 2, -4: 0}


def same_pad(x: torch.Tensor, kernel_h: int, kernel_w: int, stride_h: int, stride_w: int,
             value: float) -> torch.Tensor:  # fmt: skip
    """(B, C, H, W) -> padded as TF's SAME padding does before a (k, s) window."""
    height, width = x.shape[-2], x.shape[-1]
    pad_h = max((-(-height // stride_h) - 1) * stride_h + kernel_h - height, 0)
    pad_w = max((-(-width // stride_w) - 1) * stride_w + kernel_w - width, 0)
    return F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2],
                 value=value)  # fmt: skip


def max_pool_same(x: torch.Tensor, kernel_h: int, kernel_w: int, stride_h: int, stride_w: int
                  ) -> torch.Tensor:  # fmt: skip
    """TF's MaxPool with SAME padding: padded cells never win (-inf)."""
    padded = same_pad(x, kernel_h, kernel_w, stride_h, stride_w, float("-inf"))
    return F.max_pool2d(padded, [kernel_h, kernel_w], [stride_h, stride_w])


class Bias(nn.Module):
    """A BiasAdd that follows no convolution: x + b over the channels."""

    def __init__(self, bias: np.ndarray) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.from_numpy(np.ascontiguousarray(bias, np.float32)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bias.view(1, -1, 1, 1)


def _scope(name: str) -> str:
    """`MobilenetV1/Conv2d_1_depthwise/depthwise` -> `MobilenetV1.Conv2d_1_depthwise`."""
    parts = [p.replace("-", "_") for p in name.split("/")[:-1]] or [name.replace("/", "_")]
    return ".".join(p if p[:1].isalpha() or p[:1] == "_" else f"n{p}" for p in parts)


class _Builder:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.fx = fx.Graph()
        self.values: dict[str, fx.Node] = {}
        self.modules: dict[str, nn.Module] = {}
        self.consumers: dict[str, int] = {}
        for node in graph.nodes.values():
            for name in node.inputs:
                self.consumers[name] = self.consumers.get(name, 0) + 1

    def constant(self, node: Node, index: int) -> np.ndarray:
        if len(node.inputs) <= index:
            raise BoxposeError(f"{node.name} ({node.op}): input {index} missing")
        name = node.inputs[index]
        source = self.graph.nodes.get(name)
        while source is not None and source.op == "Identity" and source.inputs:
            name, source = source.inputs[0], self.graph.nodes.get(source.inputs[0])
        if name not in self.graph.constants:
            raise BoxposeError(f"{node.name} ({node.op}): input {name!r} is not a constant")
        return self.graph.constants[name]

    def value(self, node: Node, index: int = 0) -> fx.Node:
        name = node.inputs[index] if len(node.inputs) > index else ""
        if name not in self.values:
            raise BoxposeError(f"{node.name} ({node.op}): input {name or index!r} is missing "
                               "from the graph")  # fmt: skip
        return self.values[name]

    def add_module(self, name: str, module: nn.Module) -> str:
        key, n = name, 1
        while key in self.modules:
            n += 1
            key = f"{name}_{n}"
        self.modules[key] = module
        return key

    def window(self, node: Node, key: str) -> tuple[int, int]:
        values = node.attrs.get(key) or [1, 1, 1, 1]
        if node.attrs.get("data_format", "NHWC") != "NHWC" or len(values) != 4:
            raise BoxposeError(f"{node.name} ({node.op}): only NHWC 4-d {key} are supported")
        return int(values[1]), int(values[2])

    def conv(self, node: Node) -> fx.Node:
        weight = self.constant(node, 1)
        if weight.ndim != 4:
            raise BoxposeError(f"{node.name} ({node.op}): weight of shape {weight.shape}, "
                               "expected 4-d (kh, kw, in, out)")  # fmt: skip
        dilations = node.attrs.get("dilations") or [1, 1, 1, 1]
        if any(int(d) != 1 for d in dilations):
            raise BoxposeError(f"{node.name} ({node.op}): dilated convolutions are not supported")
        kh, kw, cin, mult = weight.shape
        stride_h, stride_w = self.window(node, "strides")
        padding = node.attrs.get("padding", "SAME")
        if padding not in ("SAME", "VALID"):
            raise BoxposeError(f"{node.name} ({node.op}): padding {padding!r} is not supported")
        if node.op == "DepthwiseConv2dNative":  # (kh, kw, C, m) -> (C m, 1, kh, kw)
            torch_weight = weight.transpose(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw)
            cout, groups = cin * mult, cin
        else:  # (kh, kw, in, out) -> (out, in, kh, kw)
            torch_weight, cout, groups = weight.transpose(3, 2, 0, 1), mult, 1
        symmetric = padding == "SAME" and stride_h == stride_w == 1 and kh % 2 and kw % 2
        pad = (kh // 2, kw // 2) if symmetric else (0, 0)
        conv = nn.Conv2d(cin, cout, (kh, kw), (stride_h, stride_w), pad, groups=groups,
                         bias=False)
        conv.weight.data = torch.from_numpy(np.ascontiguousarray(torch_weight, np.float32))
        follower = self._bias_follower(node)
        if follower is not None:
            conv.bias = nn.Parameter(torch.from_numpy(
                np.ascontiguousarray(self.constant(follower, 1), np.float32)))
        key = self.add_module(_scope(node.name), conv)
        x = self.value(node)
        if padding == "SAME" and not symmetric:
            x = self.fx.call_function(same_pad, (x, kh, kw, stride_h, stride_w, 0.0))
        out = self.fx.call_module(key, (x,))
        if follower is not None:
            self.values[follower.name] = out
        return out

    def _bias_follower(self, node: Node) -> Node | None:
        """The BiasAdd reading only this convolution's output, when it is its one consumer."""
        if self.consumers.get(node.name) != 1:
            return None
        for other in self.graph.nodes.values():
            if other.op == "BiasAdd" and other.inputs[:1] == (node.name,):
                return other
        return None

    def node(self, node: Node) -> None:
        if node.name in self.values or node.op == "Const":
            return
        op = node.op
        if op == "Placeholder":
            self.values[node.name] = self.fx.placeholder("image")
        elif op in ("Conv2D", "DepthwiseConv2dNative"):
            self.values[node.name] = self.conv(node)
        elif op == "BiasAdd":
            key = self.add_module(_scope(node.name) + "_bias", Bias(self.constant(node, 1)))
            self.values[node.name] = self.fx.call_module(key, (self.value(node),))
        elif op == "Relu":
            self.values[node.name] = self.fx.call_function(torch.relu, (self.value(node),))
        elif op == "Identity":
            self.values[node.name] = self.value(node)
        elif op == "ConcatV2":
            axis = int(self.constant(node, len(node.inputs) - 1))
            if axis not in _NHWC_TO_NCHW_AXIS:
                raise BoxposeError(f"{node.name} (ConcatV2): axis {axis} of a 4-d tensor?")
            parts = [self.value(node, i) for i in range(len(node.inputs) - 1)]
            self.values[node.name] = self.fx.call_function(
                torch.cat, (parts,), {"dim": _NHWC_TO_NCHW_AXIS[axis]})
        elif op == "MaxPool":
            if node.attrs.get("padding", "SAME") != "SAME":
                raise BoxposeError(f"{node.name} (MaxPool): only SAME padding is supported")
            kh, kw = self.window(node, "ksize")
            sh, sw = self.window(node, "strides")
            self.values[node.name] = self.fx.call_function(max_pool_same,
                                                           (self.value(node), kh, kw, sh, sw))
        else:
            raise BoxposeError(f"{node.name}: op {op!r} is not supported (supported: "
                               f"{', '.join(SUPPORTED_OPS)})")  # fmt: skip


def needed(graph: Graph, output: str) -> list[Node]:
    """The nodes `output` depends on, in an order where inputs come first."""
    if output not in graph.nodes:
        raise BoxposeError(f"the graph has no node {output!r}")
    order: list[Node] = []
    seen: set[str] = set()
    stack: list[tuple[str, bool]] = [(output, False)]
    while stack:
        name, expanded = stack.pop()
        if expanded:
            order.append(graph.nodes[name])
            continue
        if name in seen:
            continue
        seen.add(name)
        if name not in graph.nodes:
            raise BoxposeError(f"node {name!r} is read but not in the graph")
        stack.append((name, True))
        stack.extend((i, False) for i in reversed(graph.nodes[name].inputs) if i not in seen)
    return order


def to_torch(graph: Graph, output: str) -> fx.GraphModule:
    """The graph up to `output` as a module: (B, C, H, W) float32 -> (B, C', H', W')."""
    builder = _Builder(graph)
    for node in needed(graph, output):
        builder.node(node)
    if not any(n.op == "placeholder" for n in builder.fx.nodes):
        raise BoxposeError(f"{output!r} does not depend on any input Placeholder")
    builder.fx.output(builder.values[output])
    root = nn.Module()
    for key, module in builder.modules.items():
        _set(root, key.split("."), module)
    return fx.GraphModule(root, builder.fx, class_name="TfGraphNet")


def _set(root: nn.Module, path: Iterable[str], module: nn.Module) -> None:
    *parents, leaf = list(path)
    here = root
    for part in parents:
        if not hasattr(here, part):
            here.add_module(part, nn.Module())
        here = getattr(here, part)
    here.add_module(leaf, module)
