"""A .tflite flatbuffer -> its operators and dense float32 constants (numpy), read with `tflite`.

Weights in MediaPipe's files are stored as fp16 (folded here through their DEQUANTIZE op) and,
in the detector, as CSR-sparse tensors (folded through their DENSIFY op, as
tensorflow/lite/kernels/internal/utils/sparsity_format_converter.cc does). After folding, every
weight a layer reads is a plain float32 array in TFLite's layout (OHWI for convolutions,
1HWC for depthwise ones); the importers transpose them into PyTorch's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from service.errors import BoxposeError

# TensorType enum of the schema -> numpy dtype (the types these files use)
_DTYPES: dict[int, Any] = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64,
                           9: np.int8}
# SparseIndexVector union tag -> (flatbuffer class name, numpy dtype)
_INDEX_VECTORS: dict[int, tuple[str, Any]] = {
    1: ("Int32Vector", np.int32), 2: ("Uint16Vector", np.uint16), 3: ("Uint8Vector", np.uint8),
}
# Options classes read per operator kind; each getter is read into a plain dict
_OPTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "CONV_2D": ("Conv2DOptions", ("Padding", "StrideH", "StrideW", "DilationHFactor",
                                  "DilationWFactor", "FusedActivationFunction")),
    "DEPTHWISE_CONV_2D": ("DepthwiseConv2DOptions", ("Padding", "StrideH", "StrideW",
                                                     "DepthMultiplier", "DilationHFactor",
                                                     "DilationWFactor", "FusedActivationFunction")),
    "ADD": ("AddOptions", ("FusedActivationFunction",)),
    "RESIZE_BILINEAR": ("ResizeBilinearOptions", ("AlignCorners", "HalfPixelCenters")),
    "MAX_POOL_2D": ("Pool2DOptions", ("Padding", "StrideH", "StrideW", "FilterHeight",
                                      "FilterWidth", "FusedActivationFunction")),
    "DEPTH_TO_SPACE": ("DepthToSpaceOptions", ("BlockSize",)),
    "CONCATENATION": ("ConcatenationOptions", ("Axis", "FusedActivationFunction")),
}
# Operators whose output is a constant once their constant input is folded
FOLDED_OPS = ("DEQUANTIZE", "DENSIFY")


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of the graph: name, static shape (NHWC for activations), numpy dtype."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: Any


@dataclass(frozen=True)
class Op:
    """One operator: its kind (BuiltinOperator name), tensor ids in/out and parsed options."""

    index: int
    kind: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict[str, int | bool] = field(default_factory=dict)


class TfliteGraph:
    """The first subgraph of a .tflite model with its constants folded to float32."""

    def __init__(self, data: bytes) -> None:
        import tflite  # import-time extra (`pip install .[import]`), not a serving dependency

        self._tfl = tflite
        self.model = tflite.Model.GetRootAsModel(data, 0)
        self.graph = self.model.Subgraphs(0)
        self.tensors = [self._tensor_info(i) for i in range(self.graph.TensorsLength())]
        self.all_ops = [self._op(i) for i in range(self.graph.OperatorsLength())]
        self._producer = {o: op for op in self.all_ops for o in op.outputs}
        self.inputs = tuple(int(self.graph.Inputs(i)) for i in range(self.graph.InputsLength()))
        self.outputs = tuple(int(self.graph.Outputs(i)) for i in range(self.graph.OutputsLength()))

    @classmethod
    def load(cls, path: str | Path) -> TfliteGraph:
        try:
            return cls(Path(path).read_bytes())
        except ModuleNotFoundError as exc:
            raise BoxposeError("reading .tflite needs the `tflite` package: "
                               "pip install -e '.[import]'") from exc

    @property
    def ops(self) -> list[Op]:
        """Compute operators in execution order (weight-folding ops left out)."""
        return [op for op in self.all_ops if op.kind not in FOLDED_OPS]

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for op in self.all_ops:
            counts[op.kind] = counts.get(op.kind, 0) + 1
        return counts

    def is_constant(self, index: int) -> bool:
        if self._raw_buffer(index) is not None:
            return True
        op = self._producer.get(index)
        return op is not None and op.kind in FOLDED_OPS and self.is_constant(op.inputs[0])

    def constant(self, index: int) -> np.ndarray:
        """Tensor `index` as a dense array: fp16 -> float32, sparse -> dense, shape as declared."""
        raw = self._raw_buffer(index)
        info = self.tensors[index]
        if raw is not None:
            sparsity = self.graph.Tensors(index).Sparsity()
            values = np.frombuffer(raw, dtype=info.dtype)
            if sparsity is not None:
                return densify(values, info.shape, *sparsity_levels(sparsity))
            return values.reshape(info.shape).copy()
        op = self._producer.get(index)
        if op is None or op.kind not in FOLDED_OPS:
            raise BoxposeError(f"tensor {index} ({info.name}) is not a constant")
        value = self.constant(op.inputs[0])  # DENSIFY already densified its sparse input
        return value.astype(np.float32) if op.kind == "DEQUANTIZE" else value

    def _raw_buffer(self, index: int) -> bytes | None:
        buf = self.model.Buffers(self.graph.Tensors(index).Buffer())
        if buf is None or buf.DataLength() == 0:
            return None
        return bytes(buf.DataAsNumpy().tobytes())

    def _tensor_info(self, i: int) -> TensorInfo:
        t = self.graph.Tensors(i)
        shape = tuple(int(s) for s in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        dtype = _DTYPES.get(int(t.Type()))
        if dtype is None:
            raise BoxposeError(f"tensor {i}: unsupported TFLite type {t.Type()}")
        return TensorInfo(i, t.Name().decode(), shape, dtype)

    def _op(self, i: int) -> Op:
        op = self.graph.Operators(i)
        code = self.model.OperatorCodes(op.OpcodeIndex())
        kind = self._tfl.opcode2name(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()))
        inputs = tuple(int(op.Inputs(j)) for j in range(op.InputsLength()))
        outputs = tuple(int(op.Outputs(j)) for j in range(op.OutputsLength()))
        return Op(i, kind, inputs, outputs, self._options(op, kind))

    def _options(self, op: Any, kind: str) -> dict[str, int | bool]:
        if kind not in _OPTIONS or op.BuiltinOptions() is None:
            return {}
        cls_name, getters = _OPTIONS[kind]
        opts = getattr(self._tfl, cls_name)()
        table = op.BuiltinOptions()
        opts.Init(table.Bytes, table.Pos)
        return {g: getattr(opts, g)() for g in getters}


@dataclass(frozen=True)
class Level:
    """One level of a TFLite sparse tensor: DENSE (`size`) or SPARSE_CSR (segments, indices)."""

    size: int = 0
    segments: np.ndarray | None = None  # (parents + 1,) child ranges
    indices: np.ndarray | None = None  # (children,) coordinate of each child


def _index_vector(union_type: int, table: Any) -> np.ndarray:
    import tflite

    if union_type not in _INDEX_VECTORS:
        raise BoxposeError(f"unsupported sparse index vector type {union_type}")
    cls_name, dtype = _INDEX_VECTORS[union_type]
    vec = getattr(tflite, cls_name)()
    vec.Init(table.Bytes, table.Pos)
    return np.asarray(vec.ValuesAsNumpy(), dtype=dtype).astype(np.int64)


def sparsity_levels(sparsity: Any) -> tuple[list[int], list[int], list[Level]]:
    """A flatbuffer SparsityParameters -> (traversal order, block map, levels)."""
    order = [int(v) for v in sparsity.TraversalOrderAsNumpy()]
    block_map = [int(v) for v in sparsity.BlockMapAsNumpy()] if sparsity.BlockMapLength() else []
    levels = []
    for i in range(sparsity.DimMetadataLength()):
        meta = sparsity.DimMetadata(i)
        if meta.Format() == 0:  # DENSE
            levels.append(Level(size=int(meta.DenseSize())))
        else:  # SPARSE_CSR
            levels.append(Level(
                segments=_index_vector(meta.ArraySegmentsType(), meta.ArraySegments()),
                indices=_index_vector(meta.ArrayIndicesType(), meta.ArrayIndices())))
    return order, block_map, levels


def densify(values: np.ndarray, shape: tuple[int, ...], order: list[int], block_map: list[int],
            levels: list[Level]) -> np.ndarray:
    """Stored non-zeros of a TFLite sparse tensor -> the dense array of `shape`.

    Walks the levels in traversal order (`order[l]` is the dimension of level l; dimensions
    past len(shape) are blocks of `block_map`'s dimensions): a DENSE level of size n turns each
    position p into p * n + 0..n-1; a SPARSE_CSR level turns parent position p into its children
    segments[p]..segments[p+1] - 1, whose coordinates are indices[child]. The final positions
    index `values` (tensorflow/lite/kernels/internal/utils/sparsity_format_converter.cc).
    """
    pos = np.zeros(1, dtype=np.int64)
    coords: list[np.ndarray] = []
    for level in levels:
        if level.segments is None or level.indices is None:
            n = level.size
            coords = [np.repeat(c, n) for c in coords] + [np.tile(np.arange(n), len(pos))]
            pos = (pos[:, None] * n + np.arange(n)[None, :]).reshape(-1)
        else:
            seg = level.segments
            counts = seg[pos + 1] - seg[pos]
            offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
            children = np.repeat(seg[pos], counts) + offsets
            coords = [np.repeat(c, counts) for c in coords] + [level.indices[children]]
            pos = children
    by_dim = {order[i]: coords[i] for i in range(len(order))}
    full = []
    for d in range(len(shape)):
        c = by_dim[d]
        if d in block_map:
            block_dim = len(shape) + block_map.index(d)
            c = c * levels[order.index(block_dim)].size + by_dim[block_dim]
        full.append(c)
    dense = np.zeros(shape, dtype=values.dtype)
    dense[tuple(full)] = values[pos]
    return dense
