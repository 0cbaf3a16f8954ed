"""A frozen TensorFlow Graph -> its output for an NHWC input, op by op in NumPy: the reference.

Independent of the PyTorch rebuild (`tf_torch`): it walks the graph's nodes as TensorFlow
defines them (NHWC, HWIO / HWCM weights, SAME and VALID padding computed per window) with plain
NumPy, so a converted module can be checked against the original graph without TensorFlow.
Slow (float64, sliding windows): meant for small check images.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from service.errors import BoxposeError
from service.importers.tf_graphdef import Graph, Node


def _pads(size: int, kernel: int, stride: int, padding: str) -> tuple[int, int]:
    """TF's padding (before, after) of one axis."""
    if padding == "VALID":
        return 0, 0
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _windows(x: np.ndarray, kh: int, kw: int, strides: list[int], padding: str,
             fill: float) -> np.ndarray:  # fmt: skip
    """(B, H, W, C) -> (B, Ho, Wo, C, kh, kw) strided windows after TF's padding."""
    sh, sw = int(strides[1]), int(strides[2])
    top, bottom = _pads(x.shape[1], kh, sh, padding)
    left, right = _pads(x.shape[2], kw, sw, padding)
    padded = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=fill)
    return sliding_window_view(padded, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]


def _conv(node: Node, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    win = _windows(x, w.shape[0], w.shape[1], node.attrs["strides"], node.attrs["padding"], 0.0)
    return np.einsum("bhwcij,ijco->bhwo", win, w, optimize=True)


def _depthwise(node: Node, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    win = _windows(x, w.shape[0], w.shape[1], node.attrs["strides"], node.attrs["padding"], 0.0)
    out = np.einsum("bhwcij,ijcm->bhwcm", win, w, optimize=True)
    return out.reshape(*out.shape[:3], -1)  # channel c * m + k, as TensorFlow orders them


def _max_pool(node: Node, x: np.ndarray) -> np.ndarray:
    ksize = node.attrs["ksize"]
    win = _windows(x, int(ksize[1]), int(ksize[2]), node.attrs["strides"],
                   node.attrs["padding"], -np.inf)  # fmt: skip
    return win.max(axis=(-2, -1))


def _fused(node: Node, conv: np.ndarray, bias: np.ndarray) -> np.ndarray:
    out = conv + bias
    for op in list(node.attrs.get("fused_ops") or [])[1:]:  # after the BiasAdd
        if op not in _ACTIVATIONS:
            raise BoxposeError(f"{node.name}: fused op {op!r} cannot be interpreted")
        out = _ACTIVATIONS[op](out)
    return out


def _resize_axis(size: int, out: int, align: bool, half: bool
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """TF's ResizeBilinear source cells along one axis: (lower, upper, weight of upper), as
    tensorflow/core/kernels/image/resize_bilinear_op.cc computes them."""
    scale = (size - 1) / (out - 1) if align and out > 1 else size / out
    o = np.arange(out, dtype=np.float64)
    src = (o + 0.5) * scale - 0.5 if half else o * scale
    floor = np.floor(src)
    lower = np.maximum(floor, 0).astype(int)
    upper = np.minimum(np.ceil(src), size - 1).astype(int)
    return lower, upper, src - floor


def _resize(node: Node, x: np.ndarray, size: np.ndarray) -> np.ndarray:
    align, half = bool(node.attrs.get("align_corners")), bool(node.attrs.get("half_pixel_centers"))
    top, bottom, fy = _resize_axis(x.shape[1], int(size[0]), align, half)
    left, right, fx = _resize_axis(x.shape[2], int(size[1]), align, half)
    fy, fx = fy[None, :, None, None], fx[None, None, :, None]
    upper = x[:, top][:, :, left] * (1 - fx) + x[:, top][:, :, right] * fx
    lower = x[:, bottom][:, :, left] * (1 - fx) + x[:, bottom][:, :, right] * fx
    return upper * (1 - fy) + lower * fy


def _strided_slice(node: Node, x: np.ndarray, begin: np.ndarray, end: np.ndarray,
                   strides: np.ndarray) -> np.ndarray:  # fmt: skip
    masks = ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask")
    if x.ndim != 1 or any(node.attrs.get(m) for m in masks):
        raise BoxposeError(f"{node.name}: only 1-d StridedSlice without masks is interpreted")
    out = x[int(begin[0]):int(end[0]):int(strides[0])]
    return out[0] if node.attrs.get("shrink_axis_mask") else out


_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "Relu": lambda x: np.maximum(x, 0.0),
    "Relu6": lambda x: np.clip(x, 0.0, 6.0),
    "Sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
}
_CASTS = {1: np.float64, 3: np.int32, 9: np.int64, 10: np.bool_}  # DataType -> numpy


def interpret(graph: Graph, output: str, image: np.ndarray) -> np.ndarray:
    """The value of node `output` for the one Placeholder fed `image` (B, H, W, C)."""
    values: dict[str, np.ndarray] = {k: v.astype(np.float64) if v.dtype.kind == "f" else v
                                     for k, v in graph.constants.items()}  # fmt: skip

    def get(name: str) -> np.ndarray:
        if name not in values:
            evaluate(graph.nodes[name])
        return values[name]

    def activate(node: Node) -> np.ndarray:
        return _ACTIVATIONS[node.op](get(node.inputs[0]))

    ops: dict[str, Callable[[Node], np.ndarray]] = {
        "Placeholder": lambda n: np.asarray(image, np.float64),
        "Identity": lambda n: get(n.inputs[0]),
        "Conv2D": lambda n: _conv(n, get(n.inputs[0]), get(n.inputs[1])),
        "DepthwiseConv2dNative": lambda n: _depthwise(n, get(n.inputs[0]), get(n.inputs[1])),
        "BiasAdd": lambda n: get(n.inputs[0]) + get(n.inputs[1]),
        "_FusedConv2D": lambda n: _fused(n, _conv(n, get(n.inputs[0]), get(n.inputs[1])),
                                         get(n.inputs[2])),
        "FusedDepthwiseConv2dNative": lambda n: _fused(
            n, _depthwise(n, get(n.inputs[0]), get(n.inputs[1])), get(n.inputs[2])),
        **dict.fromkeys(_ACTIVATIONS, activate),
        "AddV2": lambda n: get(n.inputs[0]) + get(n.inputs[1]),
        "Add": lambda n: get(n.inputs[0]) + get(n.inputs[1]),
        "Mean": lambda n: np.mean(get(n.inputs[0]), axis=tuple(int(a) for a in get(
            n.inputs[1]).reshape(-1)), keepdims=bool(n.attrs.get("keep_dims"))),
        "Sub": lambda n: get(n.inputs[0]) - get(n.inputs[1]),
        "Mul": lambda n: get(n.inputs[0]) * get(n.inputs[1]),
        "Cast": lambda n: get(n.inputs[0]).astype(_CASTS[n.attrs.get("DstT", 1)]),
        "Shape": lambda n: np.array(get(n.inputs[0]).shape, np.int32),
        "StridedSlice": lambda n: _strided_slice(n, *(get(i) for i in n.inputs[:4])),
        "ResizeBilinear": lambda n: _resize(n, get(n.inputs[0]), get(n.inputs[1])),
        "ConcatV2": lambda n: np.concatenate([get(i) for i in n.inputs[:-1]],
                                             axis=int(get(n.inputs[-1]))),
        "MaxPool": lambda n: _max_pool(n, get(n.inputs[0])),
    }

    def evaluate(node: Node) -> None:
        if node.op not in ops:
            raise BoxposeError(f"{node.name}: op {node.op!r} cannot be interpreted")
        values[node.name] = ops[node.op](node)

    order = [output]  # iterative depth-first evaluation keeps deep graphs off the call stack
    while order:
        name = order[-1]
        if name in values:
            order.pop()
            continue
        if name not in graph.nodes:
            raise BoxposeError(f"node {name!r} is read but not in the graph")
        pending = [i for i in graph.nodes[name].inputs if i not in values]
        if pending:
            order.extend(pending)
        else:
            evaluate(graph.nodes[name])
            order.pop()
    return values[output]
