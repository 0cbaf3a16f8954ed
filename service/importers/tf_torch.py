"""A frozen TensorFlow Graph (tf_graphdef) -> a PyTorch module with named, trainable parameters.

The graph is rebuilt node by node as a torch.fx graph, so the module's `forward` is plain code
that TorchScript compiles and whose parameters can be fine-tuned:

- `Conv2D` and `DepthwiseConv2dNative` become `nn.Conv2d` (HWIO / HWC1 weights -> OIHW; a
  depthwise one has `groups` = its channels), named after the TF scope of the node
  (`MobilenetV1/Conv2d_1_depthwise/depthwise` -> `MobilenetV1.Conv2d_1_depthwise`);
  Grappler's fused forms (`_FusedConv2D`, `FusedDepthwiseConv2dNative`, fused_ops BiasAdd then
  optionally Relu or Relu6) are the same convolution with its bias and activation;
- a `BiasAdd` right after a convolution (batch norm folded into a bias) becomes that
  convolution's bias; any other `BiasAdd` is its own `Bias` module;
- `Relu`, `Relu6`, `Sigmoid`, `AddV2` / `Sub` / `Mul` (of two tensors, or of a tensor and a
  constant kept as a buffer), `ConcatV2` (NHWC axis -> NCHW axis), `MaxPool` and
  `ResizeBilinear` (`tf_ops`: TF's exact sampling; its size a Const or, as Keras's UpSampling2D
  writes it, Shape(x)[1:3] * Const, folded to x's size times the factor) are functions;
- `Cast` to float is the identity (the module's input is already float32);
- TF's SAME padding is `same_pad`: total max((ceil(n/s) - 1) s + k - n, 0), the smaller half
  before (stride 2 on an even size pads 0 before and 1 after). Odd kernels at stride 1 are
  symmetric and use the convolution's own padding.

Activations are NCHW inside the module; the graph's input Placeholder is the module's input
and the named output node its output. Any other op, a missing constant or a weight of the wrong
rank is refused naming the node.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch
from torch import fx, nn

from service.errors import BoxposeError
from service.importers.tf_graphdef import Graph, Node
from service.importers.tf_ops import (
    Bias,
    ConstBinary,
    max_pool_same,
    nchw_constant,
    relu6,
    resize_bilinear,
    resize_scaled,
    same_pad,
)

__all__ = ["SUPPORTED_OPS", "needed", "same_pad", "to_torch"]

CONVOLUTIONS = ("Conv2D", "DepthwiseConv2dNative", "_FusedConv2D", "FusedDepthwiseConv2dNative")
ACTIVATIONS: dict[str, Callable[..., torch.Tensor]] = {
    "Relu": torch.relu, "Relu6": relu6, "Sigmoid": torch.sigmoid}
BINARY: dict[str, tuple[str, Callable[..., torch.Tensor]]] = {
    "AddV2": ("add", torch.add), "Add": ("add", torch.add), "Sub": ("sub", torch.sub),
    "Mul": ("mul", torch.mul)}  # fmt: skip
SUPPORTED_OPS = ("Placeholder", "Const", "Identity", *CONVOLUTIONS, "BiasAdd", *ACTIVATIONS,
                 *BINARY, "Cast", "ConcatV2", "MaxPool", "Mean", "ResizeBilinear")  # fmt: skip
_DT_FLOAT = 1
_NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1, -1: 1, -2: 3, -3: 2, -4: 0}


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
        self.ops = self._ops()
        self.folded = self._size_nodes()

    def _size_nodes(self) -> set[str]:
        """Nodes that only compute a resize's size (up to the Shape they read): folded."""
        folded: set[str] = set()
        stack = [n.inputs[1] for n in self.graph.nodes.values()
                 if n.op == "ResizeBilinear" and len(n.inputs) > 1]  # fmt: skip
        while stack:
            name = stack.pop()
            node = self.graph.nodes.get(name)
            if node is None or name in folded:
                continue
            folded.add(name)
            if node.op != "Shape":
                stack.extend(node.inputs)
        return folded

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
        """A free dotted path for `module`: never inside another module's leaf (a scope that is
        both a layer and the parent of a layer, as `x/BiasAdd` beside `x/separable/depthwise`),
        never a parent of a leaf."""
        if any(name.startswith(k + ".") for k in self.modules):
            name = name.replace(".", "_")
        key, n = name, 1
        while key in self.modules or any(k.startswith(key + ".") for k in self.modules):
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
        if "Depthwise" in node.op:  # (kh, kw, C, m) -> (C m, 1, kh, kw)
            torch_weight = weight.transpose(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw)
            cout, groups = cin * mult, cin
        else:  # (kh, kw, in, out) -> (out, in, kh, kw)
            torch_weight, cout, groups = weight.transpose(3, 2, 0, 1), mult, 1
        symmetric = padding == "SAME" and stride_h == stride_w == 1 and kh % 2 and kw % 2
        pad = (kh // 2, kw // 2) if symmetric else (0, 0)
        conv = nn.Conv2d(cin, cout, (kh, kw), (stride_h, stride_w), pad, groups=groups,
                         bias=False)
        conv.weight.data = torch.from_numpy(np.ascontiguousarray(torch_weight, np.float32))
        activation, bias_node, bias_index = self._fused(node)
        if bias_node is not None:
            conv.bias = nn.Parameter(torch.from_numpy(
                np.ascontiguousarray(self.constant(bias_node, bias_index), np.float32)))
        key = self.add_module(_scope(node.name), conv)
        x = self.value(node)
        if padding == "SAME" and not symmetric:
            x = self.fx.call_function(same_pad, (x, kh, kw, stride_h, stride_w, 0.0))
        out = self.fx.call_module(key, (x,))
        if bias_node is not None and bias_node is not node:
            self.values[bias_node.name] = out
        if activation:
            out = self.fx.call_function(ACTIVATIONS[activation], (out,))
        return out

    def _fused(self, node: Node) -> tuple[str, Node | None, int]:
        """(activation or "", the node holding the bias, its input index): a fused op's own
        fused_ops, else the BiasAdd that follows it alone."""
        if not node.op.startswith(("_Fused", "Fused")):
            follower = self._bias_follower(node)
            return "", follower, 1
        fused = list(node.attrs.get("fused_ops") or [])
        if fused[:1] != ["BiasAdd"] or len(fused) > 2 or fused[1:] not in ([], ["Relu"],
                                                                           ["Relu6"]):
            raise BoxposeError(f"{node.name} ({node.op}): fused_ops {fused} not supported "
                               "(BiasAdd, then optionally Relu or Relu6)")  # fmt: skip
        return (fused[1] if len(fused) == 2 else ""), node, 2

    def _bias_follower(self, node: Node) -> Node | None:
        """The BiasAdd reading only this convolution's output, when it is its one consumer."""
        if self.consumers.get(node.name) != 1:
            return None
        for other in self.graph.nodes.values():
            if other.op == "BiasAdd" and other.inputs[:1] == (node.name,):
                return other
        return None

    def binary(self, node: Node) -> fx.Node:
        name, function = BINARY[node.op]
        if len(node.inputs) != 2:
            raise BoxposeError(f"{node.name} ({node.op}): expected 2 inputs")
        const = [i in self.graph.constants for i in node.inputs]
        if all(const):
            raise BoxposeError(f"{node.name} ({node.op}): both inputs constant (fold it)")
        if not any(const):
            return self.fx.call_function(function, (self.value(node, 0), self.value(node, 1)))
        index = const.index(True)
        value = nchw_constant(self.constant(node, index))
        if value is None:
            raise BoxposeError(f"{node.name} ({node.op}): constant of shape "
                               f"{self.constant(node, index).shape} cannot broadcast NCHW")
        key = self.add_module(_scope(node.name) + f"_{name}",
                              ConstBinary(name, value, constant_first=index == 0))
        return self.fx.call_module(key, (self.value(node, 1 - index),))

    def resize(self, node: Node) -> fx.Node:
        flags = (bool(node.attrs.get("align_corners")), bool(node.attrs.get("half_pixel_centers")))
        size_name = node.inputs[1] if len(node.inputs) > 1 else ""
        if size_name in self.graph.constants:
            height, width = (int(v) for v in self.constant(node, 1).reshape(-1))
            return self.fx.call_function(resize_bilinear, (self.value(node), height, width,
                                                           *flags))  # fmt: skip
        reference, factors = self._scaled_size(node, size_name)
        return self.fx.call_function(resize_scaled, (self.value(node), self.values[reference],
                                                     *factors, *flags))  # fmt: skip

    def _scaled_size(self, node: Node, name: str) -> tuple[str, tuple[int, int]]:
        """Shape(x)[1:3] * Const (Keras's UpSampling2D) -> (x, the factors); else refused."""
        mul = self.graph.nodes.get(name)
        sliced = self.graph.nodes.get(mul.inputs[0]) if mul and mul.op == "Mul" else None
        shape = self.graph.nodes.get(sliced.inputs[0]) if sliced and len(sliced.inputs) == 4 \
            else None  # fmt: skip
        if mul is None or sliced is None or shape is None or shape.op != "Shape" \
                or sliced.op != "StridedSlice" or any(sliced.attrs.get(m) for m in (
                    "begin_mask", "end_mask", "shrink_axis_mask", "new_axis_mask",
                    "ellipsis_mask")):  # fmt: skip
            raise BoxposeError(f"{node.name} (ResizeBilinear): its size {name!r} is neither a "
                               "Const nor Shape(x)[1:3] * Const")  # fmt: skip
        begin, end, step = (self.constant(sliced, i).reshape(-1).tolist() for i in (1, 2, 3))
        factors = self.constant(mul, 1).reshape(-1).astype(int).tolist()
        if (begin, end, step) != ([1], [3], [1]) or len(factors) != 2:
            raise BoxposeError(f"{node.name} (ResizeBilinear): size {name!r} is not "
                               "Shape(x)[1:3] * (fh, fw)")  # fmt: skip
        if shape.inputs[0] not in self.values:
            raise BoxposeError(f"{node.name} (ResizeBilinear): {shape.inputs[0]!r} not built")
        return shape.inputs[0], (factors[0], factors[1])

    def node(self, node: Node) -> None:
        if node.name in self.values or node.op == "Const" or node.name in self.folded:
            return  # a resize's size is folded where the resize reads it
        if node.op not in self.ops:
            raise BoxposeError(f"{node.name}: op {node.op!r} is not supported (supported: "
                               f"{', '.join(SUPPORTED_OPS)})")  # fmt: skip
        self.values[node.name] = self.ops[node.op](node)

    def activation(self, node: Node) -> fx.Node:
        return self.fx.call_function(ACTIVATIONS[node.op], (self.value(node),))

    def cast(self, node: Node) -> fx.Node:
        if node.attrs.get("DstT", _DT_FLOAT) != _DT_FLOAT:
            raise BoxposeError(f"{node.name} (Cast): only a cast to float32 is supported")
        return self.value(node)

    def bias_add(self, node: Node) -> fx.Node:
        key = self.add_module(_scope(node.name) + "_bias", Bias(self.constant(node, 1)))
        return self.fx.call_module(key, (self.value(node),))

    def concat(self, node: Node) -> fx.Node:
        axis = int(self.constant(node, len(node.inputs) - 1))
        if axis not in _NHWC_TO_NCHW_AXIS:
            raise BoxposeError(f"{node.name} (ConcatV2): axis {axis} of a 4-d tensor?")
        parts = [self.value(node, i) for i in range(len(node.inputs) - 1)]
        return self.fx.call_function(torch.cat, (parts,), {"dim": _NHWC_TO_NCHW_AXIS[axis]})

    def max_pool(self, node: Node) -> fx.Node:
        if node.attrs.get("padding", "SAME") != "SAME":
            raise BoxposeError(f"{node.name} (MaxPool): only SAME padding is supported")
        kh, kw = self.window(node, "ksize")
        sh, sw = self.window(node, "strides")
        return self.fx.call_function(max_pool_same, (self.value(node), kh, kw, sh, sw))

    def mean(self, node: Node) -> fx.Node:
        """Mean over the spatial axes, kept (squeeze-and-excite's global pooling)."""
        axes = sorted(_NHWC_TO_NCHW_AXIS.get(int(a), -1)
                      for a in self.constant(node, 1).reshape(-1))  # fmt: skip
        if axes != [2, 3] or not node.attrs.get("keep_dims"):
            raise BoxposeError(f"{node.name} (Mean): only a mean over H and W with keep_dims "
                               "is supported")  # fmt: skip
        return self.fx.call_method("mean", (self.value(node), [2, 3]), {"keepdim": True})

    def _ops(self) -> dict[str, Callable[[Node], fx.Node]]:
        """op -> its builder: the one place that says what is supported."""
        ops: dict[str, Callable[[Node], fx.Node]] = {
            "Placeholder": lambda n: self.fx.placeholder("image"),
            "Identity": self.value, "Cast": self.cast, "BiasAdd": self.bias_add,
            "ConcatV2": self.concat, "MaxPool": self.max_pool, "ResizeBilinear": self.resize,
            "Mean": self.mean,
        }  # fmt: skip
        ops.update({op: self.conv for op in CONVOLUTIONS})
        ops.update({op: self.binary for op in BINARY})
        ops.update({op: self.activation for op in ACTIVATIONS})
        return ops


def needed(graph: Graph, output: str | Sequence[str]) -> list[Node]:
    """The nodes `output` (one name or several) depends on, in an order where inputs come
    first."""
    outputs = [output] if isinstance(output, str) else list(output)
    for name in outputs:
        if name not in graph.nodes:
            raise BoxposeError(f"the graph has no node {name!r}")
    order: list[Node] = []
    seen: set[str] = set()
    stack: list[tuple[str, bool]] = [(name, False) for name in reversed(outputs)]
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


def to_torch(graph: Graph, output: str | Sequence[str]) -> fx.GraphModule:
    """The graph up to `output` as a module: (B, C, H, W) float32 -> (B, C', H', W'), or a
    tuple of them, in order, when `output` names several nodes."""
    builder = _Builder(graph)
    for node in needed(graph, output):
        builder.node(node)
    if not any(n.op == "placeholder" for n in builder.fx.nodes):
        raise BoxposeError(f"{output!r} does not depend on any input Placeholder")
    if isinstance(output, str):
        builder.fx.output(builder.values[output])
    else:
        builder.fx.output(tuple(builder.values[name] for name in output))
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
