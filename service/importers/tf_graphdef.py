"""A TensorFlow frozen GraphDef (.pb) -> its nodes and float32 constants (numpy), without TF.

The messages are read with protobuf's own parser: the few TensorFlow message types a frozen
inference graph uses (`GraphDef`, `NodeDef`, `AttrValue`, `TensorProto`, `TensorShapeProto`,
field numbers as in tensorflow/core/framework/*.proto) are declared here as a descriptor, so
protobuf does the wire format and TensorFlow is not needed. Fields not declared are skipped.

A node is kept as its op, inputs (control inputs `^x` dropped, `x:0` read as `x`) and the
attributes the importer reads; `Const` nodes become numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError, Message

from service.errors import BoxposeError

# tensorflow/core/framework/types.proto DataType -> numpy (the types a frozen net's constants use)
DTYPES: dict[int, Any] = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 6: np.int8,
                          9: np.int64, 10: np.bool_, 19: np.float16}  # fmt: skip
# Which repeated TensorProto field holds the values when tensor_content is empty
_VALUE_FIELDS = {1: "float_val", 2: "double_val", 3: "int_val", 4: "int_val", 6: "int_val",
                 9: "int64_val", 10: "bool_val", 19: "half_val"}  # fmt: skip

_T = descriptor_pb2.FieldDescriptorProto
# message -> [(field name, number, type, label, message type name or "")]
_SCHEMA: dict[str, list[tuple[str, int, int, int, str]]] = {
    "TensorShapeProto.Dim": [("size", 1, _T.TYPE_INT64, _T.LABEL_OPTIONAL, ""),
                             ("name", 2, _T.TYPE_STRING, _T.LABEL_OPTIONAL, "")],
    "TensorShapeProto": [("dim", 2, _T.TYPE_MESSAGE, _T.LABEL_REPEATED, "TensorShapeProto.Dim"),
                         ("unknown_rank", 3, _T.TYPE_BOOL, _T.LABEL_OPTIONAL, "")],
    "TensorProto": [("dtype", 1, _T.TYPE_INT32, _T.LABEL_OPTIONAL, ""),
                    ("tensor_shape", 2, _T.TYPE_MESSAGE, _T.LABEL_OPTIONAL, "TensorShapeProto"),
                    ("tensor_content", 4, _T.TYPE_BYTES, _T.LABEL_OPTIONAL, ""),
                    ("float_val", 5, _T.TYPE_FLOAT, _T.LABEL_REPEATED, ""),
                    ("double_val", 6, _T.TYPE_DOUBLE, _T.LABEL_REPEATED, ""),
                    ("int_val", 7, _T.TYPE_INT32, _T.LABEL_REPEATED, ""),
                    ("int64_val", 10, _T.TYPE_INT64, _T.LABEL_REPEATED, ""),
                    ("bool_val", 11, _T.TYPE_BOOL, _T.LABEL_REPEATED, ""),
                    ("half_val", 13, _T.TYPE_INT32, _T.LABEL_REPEATED, "")],
    "AttrValue.ListValue": [("s", 2, _T.TYPE_BYTES, _T.LABEL_REPEATED, ""),
                            ("i", 3, _T.TYPE_INT64, _T.LABEL_REPEATED, ""),
                            ("f", 4, _T.TYPE_FLOAT, _T.LABEL_REPEATED, ""),
                            ("b", 5, _T.TYPE_BOOL, _T.LABEL_REPEATED, "")],
    "AttrValue": [("list", 1, _T.TYPE_MESSAGE, _T.LABEL_OPTIONAL, "AttrValue.ListValue"),
                  ("s", 2, _T.TYPE_BYTES, _T.LABEL_OPTIONAL, ""),
                  ("i", 3, _T.TYPE_INT64, _T.LABEL_OPTIONAL, ""),
                  ("f", 4, _T.TYPE_FLOAT, _T.LABEL_OPTIONAL, ""),
                  ("b", 5, _T.TYPE_BOOL, _T.LABEL_OPTIONAL, ""),
                  ("type", 6, _T.TYPE_INT32, _T.LABEL_OPTIONAL, ""),
                  ("shape", 7, _T.TYPE_MESSAGE, _T.LABEL_OPTIONAL, "TensorShapeProto"),
                  ("tensor", 8, _T.TYPE_MESSAGE, _T.LABEL_OPTIONAL, "TensorProto")],
    "NodeDef.AttrEntry": [("key", 1, _T.TYPE_STRING, _T.LABEL_OPTIONAL, ""),
                          ("value", 2, _T.TYPE_MESSAGE, _T.LABEL_OPTIONAL, "AttrValue")],
    "NodeDef": [("name", 1, _T.TYPE_STRING, _T.LABEL_OPTIONAL, ""),
                ("op", 2, _T.TYPE_STRING, _T.LABEL_OPTIONAL, ""),
                ("input", 3, _T.TYPE_STRING, _T.LABEL_REPEATED, ""),
                ("device", 4, _T.TYPE_STRING, _T.LABEL_OPTIONAL, ""),
                ("attr", 5, _T.TYPE_MESSAGE, _T.LABEL_REPEATED, "NodeDef.AttrEntry")],
    "GraphDef": [("node", 1, _T.TYPE_MESSAGE, _T.LABEL_REPEATED, "NodeDef")],
}
_PACKAGE = "boxpose_tf"


def _file_descriptor() -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto(name="boxpose_tf_graph.proto", package=_PACKAGE,
                                               syntax="proto3")  # fmt: skip
    made: dict[str, descriptor_pb2.DescriptorProto] = {}
    for full in _SCHEMA:  # parents are listed after their nested types; create parents first
        parent, _, _ = full.rpartition(".")
        if full not in made and not parent:
            made[full] = proto.message_type.add(name=full)
    for full in _SCHEMA:
        parent, _, leaf = full.rpartition(".")
        if parent:
            made[full] = made[parent].nested_type.add(name=leaf)
    for full, fields in _SCHEMA.items():
        for name, number, kind, label, type_name in fields:
            added = made[full].field.add(name=name, number=number, type=kind, label=label)
            if type_name:
                added.type_name = f".{_PACKAGE}.{type_name}"
    made["NodeDef.AttrEntry"].options.map_entry = True
    return proto


@cache
def message_class(name: str) -> type[Message]:
    """The protobuf class of one declared message ("GraphDef", "NodeDef", "TensorProto")."""
    pool = descriptor_pool.DescriptorPool()
    pool.Add(_file_descriptor())
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))


@dataclass(frozen=True)
class Node:
    """One graph node: its op, data inputs (node names) and attributes as plain values."""

    name: str
    op: str
    inputs: tuple[str, ...]
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Graph:
    nodes: dict[str, Node]  # in file order (a frozen graph is topologically sorted)
    constants: dict[str, np.ndarray]  # Const node name -> value


def tensor_value(tensor: Any, where: str) -> np.ndarray:
    """A TensorProto -> numpy array of its dtype and shape. Raises BoxposeError naming `where`
    when the dtype is unknown or the values do not fill the shape."""
    if tensor.dtype not in DTYPES:
        raise BoxposeError(f"{where}: constant of unsupported dtype {tensor.dtype}")
    dtype = np.dtype(DTYPES[tensor.dtype])
    shape = tuple(int(d.size) for d in tensor.tensor_shape.dim)
    count = int(np.prod(shape, dtype=np.int64))
    if tensor.tensor_content:
        if len(tensor.tensor_content) != count * dtype.itemsize:
            raise BoxposeError(f"{where}: {len(tensor.tensor_content)} bytes of data for shape "
                               f"{shape} of {dtype.name} ({count * dtype.itemsize} expected)")
        return np.frombuffer(tensor.tensor_content, dtype=dtype).reshape(shape).copy()
    values = list(getattr(tensor, _VALUE_FIELDS[tensor.dtype]))
    if tensor.dtype == 19:
        values_array = np.array(values, dtype=np.uint16).view(np.float16)
    else:
        values_array = np.array(values, dtype=dtype)
    if len(values) == count:
        return values_array.reshape(shape)
    if len(values) == 1:  # a splat: one value for every element
        return np.full(shape, values_array[0], dtype=dtype)
    raise BoxposeError(f"{where}: {len(values)} values for shape {shape}")


def _attr(value: Any) -> Any:
    listed = value.ListFields()  # AttrValue is a oneof: at most one field is set
    if not listed:
        return None
    kind = listed[0][0].name
    if kind == "list":
        lv = value.list
        return [b.decode() for b in lv.s] or list(lv.i) or list(lv.f) or list(lv.b)
    if kind == "s":
        return value.s.decode(errors="replace")
    if kind == "shape":
        return tuple(int(d.size) for d in value.shape.dim)
    return getattr(value, kind)


def _input_name(name: str) -> str:
    return name.split(":")[0]


def read_graph(data: bytes, source: str = "graph") -> Graph:
    """Bytes of a GraphDef -> Graph. Raises BoxposeError when they are not one (truncated,
    another format) or hold no nodes."""
    graph = message_class("GraphDef")()
    try:
        graph.ParseFromString(data)
    except DecodeError as exc:
        raise BoxposeError(f"{source}: not a TensorFlow GraphDef ({exc})") from exc
    if not graph.node:
        raise BoxposeError(f"{source}: a GraphDef with no nodes")
    nodes: dict[str, Node] = {}
    constants: dict[str, np.ndarray] = {}
    for nd in graph.node:
        attrs = {key: _attr(value) for key, value in nd.attr.items() if key != "value"}
        inputs = tuple(_input_name(i) for i in nd.input if not i.startswith("^"))
        nodes[nd.name] = Node(nd.name, nd.op, inputs, attrs)
        if nd.op == "Const":
            constants[nd.name] = tensor_value(nd.attr["value"].tensor, f"{source}: {nd.name}")
    return Graph(nodes, constants)


def read_graph_file(path: Path) -> Graph:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise BoxposeError(f"{path}: cannot read ({exc.strerror})") from exc
    return read_graph(data, Path(path).name)
