"""A TensorFlow.js graph model (model.json + .bin shards) -> the same `Graph` as a frozen GraphDef.

`model.json` holds `modelTopology` (a GraphDef written as JSON: nodes with name, op, input and
attr, attribute values as protobuf's JSON mapping: {"list": {"i": ["1"]}}, {"s": base64},
{"type": "DT_FLOAT"}, {"b": true}, {"shape": {...}}) and a `weightsManifest`: groups, each the
shard files (`paths`, concatenated in order) and the specs of the constants stored in them, one
after the other (name, shape, dtype and optionally `quantization`: float16, or uint8 / uint16
with `scale` and `min`, value = q * scale + min). Constants come back dequantised: float32 for a
float weight, the spec's dtype otherwise. Attribute values are read as `tf_graphdef` reads the
binary ones (strings decoded, integers as int, DataType as its enum number).

A file that is not such JSON, a shard that is missing or of the wrong length, or a Const node
without a weight is refused naming it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from service.errors import BoxposeError
from service.importers.tf_graphdef import Graph, Node

# tensorflow/core/framework/types.proto: the DataType names a tfjs file writes -> enum numbers
DATA_TYPES = {"DT_FLOAT": 1, "DT_DOUBLE": 2, "DT_INT32": 3, "DT_UINT8": 4,
              "DT_INT16": 5, "DT_INT8": 6, "DT_STRING": 7, "DT_INT64": 9, "DT_BOOL": 10,
              "DT_HALF": 19}  # fmt: skip
# weight spec dtype -> (numpy dtype stored, numpy dtype returned)
_STORED = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}
# quantization dtype -> numpy dtype of the stored values
_QUANTISED = {"float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}


def _attr(value: Mapping[str, Any]) -> Any:
    """One JSON attribute value -> a plain Python value, as `tf_graphdef._attr` returns it."""
    if "list" in value:
        listed = value["list"] or {}
        if listed.get("s"):
            return [base64.b64decode(s).decode(errors="replace") for s in listed["s"]]
        if listed.get("i"):
            return [int(i) for i in listed["i"]]
        if listed.get("f"):
            return [float(f) for f in listed["f"]]
        if listed.get("b"):
            return [bool(b) for b in listed["b"]]
        return []
    if "s" in value:
        return base64.b64decode(value["s"]).decode(errors="replace")
    if "i" in value:
        return int(value["i"])
    if "f" in value:
        return float(value["f"])
    if "b" in value:
        return bool(value["b"])
    if "type" in value:
        return DATA_TYPES.get(value["type"], value["type"])
    if "shape" in value:
        return tuple(int(d.get("size", -1)) for d in (value["shape"] or {}).get("dim", []))
    return None


def _nodes(topology: Any, source: str) -> dict[str, Node]:
    if not isinstance(topology, dict) or not isinstance(topology.get("node"), list):
        raise BoxposeError(f"{source}: modelTopology holds no node list")
    nodes: dict[str, Node] = {}
    for raw in topology["node"]:
        if not isinstance(raw, dict) or "name" not in raw or "op" not in raw:
            raise BoxposeError(f"{source}: a node without a name or op: {str(raw)[:80]}")
        try:
            attrs = {k: _attr(v) for k, v in (raw.get("attr") or {}).items() if k != "value"}
        except (binascii.Error, ValueError, TypeError, AttributeError) as exc:
            raise BoxposeError(f"{source}: {raw['name']}: unreadable attribute ({exc})") from exc
        inputs = tuple(i.split(":")[0] for i in raw.get("input", []) if not i.startswith("^"))
        nodes[raw["name"]] = Node(raw["name"], raw["op"], inputs, attrs)
    if not nodes:
        raise BoxposeError(f"{source}: a graph with no nodes")
    return nodes


def _weight(spec: Mapping[str, Any], buffer: bytes, offset: int, where: str
            ) -> tuple[np.ndarray, int]:  # fmt: skip
    """One weight spec read from `buffer` at `offset` -> (value, next offset)."""
    shape = tuple(int(s) for s in spec.get("shape", []))
    count = int(np.prod(shape, dtype=np.int64))
    dtype = spec.get("dtype", "float32")
    if dtype not in _STORED:
        raise BoxposeError(f"{where}: weight dtype {dtype!r} is not supported")
    quant = spec.get("quantization")
    if quant and quant.get("dtype") not in _QUANTISED:
        raise BoxposeError(f"{where}: quantization {quant.get('dtype')!r} is not supported")
    stored = np.dtype(_QUANTISED[quant["dtype"]] if quant else _STORED[dtype])
    end = offset + count * stored.itemsize
    if end > len(buffer):
        raise BoxposeError(f"{where}: needs bytes {offset}..{end}, the shards hold {len(buffer)}")
    raw = np.frombuffer(buffer, stored, count, offset)
    if not quant:
        return raw.copy().reshape(shape), end
    if quant["dtype"] == "float16":
        value = raw.astype(np.float32)
    else:  # affine: q * scale + min
        value = raw.astype(np.float32) * np.float32(quant["scale"]) + np.float32(quant["min"])
    if dtype != "float32":
        value = np.rint(value).astype(_STORED[dtype])
    return value.reshape(shape), end


def read_weights(manifest: Any, shards: Mapping[str, bytes], source: str
                 ) -> dict[str, np.ndarray]:  # fmt: skip
    """weightsManifest + shard bytes by path -> weight name -> value."""
    if not isinstance(manifest, list):
        raise BoxposeError(f"{source}: weightsManifest is not a list of groups")
    weights: dict[str, np.ndarray] = {}
    for group in manifest:
        paths = list(group.get("paths", []))
        missing = [p for p in paths if p not in shards]
        if missing:
            raise BoxposeError(f"{source}: shard {missing[0]!r} is missing")
        buffer = b"".join(shards[p] for p in paths)
        offset = 0
        for spec in group.get("weights", []):
            where = f"{source}: weight {spec.get('name')!r} ({', '.join(paths)})"
            weights[spec["name"]], offset = _weight(spec, buffer, offset, where)
        if offset != len(buffer):
            raise BoxposeError(f"{source}: shards {', '.join(paths)} hold {len(buffer)} bytes, "
                               f"their weights {offset}")  # fmt: skip
    return weights


def parse_model_json(data: bytes, source: str = "model.json") -> dict[str, Any]:
    try:
        model = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BoxposeError(f"{source}: not a TensorFlow.js model.json ({exc})") from exc
    if not isinstance(model, dict) or "modelTopology" not in model:
        raise BoxposeError(f"{source}: not a TensorFlow.js graph model (no modelTopology)")
    if "weightsManifest" not in model:
        raise BoxposeError(f"{source}: no weightsManifest")
    return model


def shard_paths(model: Mapping[str, Any]) -> list[str]:
    """The shard files a parsed model.json names, in order."""
    return [p for group in model["weightsManifest"] for p in group.get("paths", [])]


def read_model(data: bytes, shards: Mapping[str, bytes], source: str = "model.json") -> Graph:
    """model.json bytes + its shards (path as the manifest names it -> bytes) -> Graph."""
    model = parse_model_json(data, source)
    nodes = _nodes(model["modelTopology"], source)
    weights = read_weights(model["weightsManifest"], shards, source)
    constants: dict[str, np.ndarray] = {}
    for node in nodes.values():
        if node.op == "Const":
            if node.name not in weights:
                raise BoxposeError(f"{source}: constant {node.name!r} has no weight in the "
                                   "weightsManifest")  # fmt: skip
            constants[node.name] = weights[node.name]
    return Graph(nodes, constants)


def read_model_file(path: Path) -> Graph:
    """A model.json on disk, its shards beside it."""
    path = Path(path)
    try:
        data = path.read_bytes()
        model = parse_model_json(data, path.name)
        shards = {p: (path.parent / p).read_bytes() for p in shard_paths(model)
                  if (path.parent / p).is_file()}  # fmt: skip
    except OSError as exc:
        raise BoxposeError(f"{path}: cannot read ({exc.strerror})") from exc
    return read_model(data, shards, path.name)
