"""Open Inference Protocol (KServe v2) bodies <-> the service's inputs and poses: the JSON
request (with the binary tensor extension Triton's clients send), one model's metadata, and the
KEYPOINTS / SCORES / BOXES output tensors.

A request body is JSON, or, with the `Inference-Header-Content-Length: N` header, N bytes of JSON
followed by the binary data of the inputs whose `parameters.binary_data_size` says how long each
is (a BYTES tensor: each element a little-endian uint32 length, then its bytes).
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.api.errors import ApiError
from service.api.inputs import _boxes_from
from service.runtime.keypoint_output import KeypointLayout
from service.types import Box, Pose

HEADER_LENGTH = "inference-header-content-length"
Datatype = Literal["BYTES", "FP32", "FP64", "INT32", "INT64"]
FP32_MAX = float(np.finfo(np.float32).max)  # a box's coordinates come back as FP32


class TensorInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Literal["IMAGE", "BOXES"] = Field(
        description="IMAGE: the encoded photo (BYTES, shape [1]; in JSON, base64); BOXES: "
        "optional person boxes [x1, y1, x2, y2] in image pixels (FP32, shape [N, 4])")
    shape: list[int] = Field(min_length=1, max_length=2)
    datatype: Datatype
    parameters: dict[str, Any] | None = None
    data: list[Any] | None = Field(default=None, description="row-major values; absent when "
                                   "sent as binary data (parameters.binary_data_size)")


class RequestedOutput(BaseModel):
    name: Literal["KEYPOINTS", "SCORES", "BOXES"]
    parameters: dict[str, Any] | None = None


class InferenceRequest(BaseModel):
    id: str | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[TensorInput] = Field(min_length=1, max_length=2)
    outputs: list[RequestedOutput] | None = None


class TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int]


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]
    parameters: dict[str, Any] = Field(
        description="keypoint_names: what each KEYPOINTS row is, in order")


class TensorOutput(BaseModel):
    name: str
    datatype: str
    shape: list[int]
    data: list[float]


class InferenceResponse(BaseModel):
    model_name: str
    model_version: str
    id: str | None = None
    outputs: list[TensorOutput]


class ProtocolError(BaseModel):
    error: str


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's JSON schema with its `$defs` written in place (a request body's schema in the
    OpenAPI document, where `#/$defs/...` would not resolve)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {k: resolve(v) for k, v in node.items()}
        return [resolve(v) for v in node] if isinstance(node, list) else node

    return dict(resolve(schema))


# The JSON body as the server accepts it (`inline_schema(InferenceRequest)` admits more: any
# tensor order, binary_data_size without the binary data). What JSON Schema cannot say is in the
# descriptions and named formats: `base64-image` (base64 of a JPEG, PNG, WebP or BMP file), and a
# BOXES tensor's rows (shape [N, 4] with N * 4 values, x2 > x1 and y2 > y1 in each row).
_NOT_BINARY = {"type": "object", "properties": {"binary_data_size": False},
               "description": "tensor parameters; binary_data_size only with the binary "
               "extension (Inference-Header-Content-Length)"}  # fmt: skip
_IMAGE_TENSOR = {
    "type": "object", "title": "IMAGE", "additionalProperties": False,
    "required": ["name", "shape", "datatype", "data"],
    "properties": {
        "name": {"const": "IMAGE"}, "shape": {"const": [1]}, "datatype": {"const": "BYTES"},
        "parameters": _NOT_BINARY,
        "data": {"type": "array", "minItems": 1, "maxItems": 1,
                 "items": {"type": "string", "format": "base64-image",
                           "description": "base64 of a JPEG, PNG, WebP or BMP file"}},
    },
}  # fmt: skip
def _boxes_tensor(max_boxes: int) -> dict[str, Any]:
    return {
        "type": "object", "title": "BOXES", "additionalProperties": False,
        "required": ["name", "shape", "datatype", "data"],
        "description": "person boxes [x1, y1, x2, y2] in image pixels with x2 > x1 and y2 > y1: "
                       "shape [N, 4], data its N rows (flat row-major also accepted)",
        "properties": {
            "name": {"const": "BOXES"}, "datatype": {"enum": ["FP32", "FP64", "INT32", "INT64"]},
            "shape": {"type": "array", "minItems": 2, "maxItems": 2,
                      "prefixItems": [{"type": "integer", "minimum": 0, "maximum": max_boxes},
                                      {"const": 4}]},
            "parameters": _NOT_BINARY,
            "data": {"type": "array", "maxItems": max_boxes,
                     "items": {"type": "array", "minItems": 4, "maxItems": 4,
                               "items": {"type": "number", "minimum": -FP32_MAX,
                                         "maximum": FP32_MAX}}},
        },
    }  # fmt: skip


def request_schema(max_boxes: int) -> dict[str, Any]:
    """The JSON inference request's schema: IMAGE first, then optionally BOXES (at most
    `max_boxes`, BOXPOSE_MAX_BOXES)."""
    schema = inline_schema(InferenceRequest)
    schema["properties"]["inputs"] = {
        "type": "array", "minItems": 1, "maxItems": 2, "items": False,
        "prefixItems": [_IMAGE_TENSOR, _boxes_tensor(max_boxes)],
        "description": "IMAGE (the encoded photo), then optionally BOXES (the people to pose)",
    }
    return schema


def bad_request(message: str) -> ApiError:
    return ApiError(400, "bad_request", message)


def metadata(name: str, version: str, engine: str, layout: KeypointLayout) -> ModelMetadata:
    joints = len(layout.names)
    platform = "onnxruntime_onnx" if engine == "onnxruntime" else "pytorch_torchscript"
    return ModelMetadata(
        name=name, versions=[version], platform=platform,
        inputs=[TensorMetadata(name="IMAGE", datatype="BYTES", shape=[1]),
                TensorMetadata(name="BOXES", datatype="FP32", shape=[-1, 4])],
        outputs=[TensorMetadata(name="KEYPOINTS", datatype="FP32", shape=[-1, joints, 3]),
                 TensorMetadata(name="SCORES", datatype="FP32", shape=[-1]),
                 TensorMetadata(name="BOXES", datatype="FP32", shape=[-1, 4])],
        parameters={"keypoint_names": list(layout.names)},
    )  # fmt: skip


Binaries = dict[str, bytes]  # input name -> its binary data


def parse_request(body: bytes, header_length: str | None) -> tuple[InferenceRequest, Binaries]:
    """Body -> (the JSON request, binary data by input name)."""
    size = len(body)
    if header_length is not None:
        if not header_length.isdigit() or int(header_length) > len(body):
            raise bad_request(f"{HEADER_LENGTH} {header_length!r} is not a length within the body")
        size = int(header_length)
    try:
        request = InferenceRequest.model_validate_json(body[:size])
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise bad_request(f"inference request: {where}: {first['msg']}") from exc
    binary: Binaries = {}
    offset = size
    for tensor in request.inputs:
        length = (tensor.parameters or {}).get("binary_data_size")
        if length is None:
            continue
        if not isinstance(length, int) or length < 0 or offset + length > len(body):
            raise bad_request(f"input {tensor.name}: binary_data_size {length!r} past the body")
        binary[tensor.name] = body[offset:offset + length]
        offset += length
    return request, binary


def image_bytes(tensor: TensorInput, binary: bytes | None) -> bytes:
    """The IMAGE tensor -> the encoded photo (one element)."""
    if tensor.datatype != "BYTES" or tensor.shape != [1]:
        raise bad_request("input IMAGE: BYTES of shape [1] (one encoded photo)")
    if binary is not None:
        if len(binary) < 4:
            raise bad_request("input IMAGE: binary BYTES need a 4-byte length first")
        (length,) = struct.unpack("<I", binary[:4])
        if length != len(binary) - 4:
            raise bad_request("input IMAGE: one element of shape [1] expected")
        return binary[4:]
    if not tensor.data or len(tensor.data) != 1 or not isinstance(tensor.data[0], str):
        raise bad_request("input IMAGE: data must hold one base64 string")
    try:
        return base64.b64decode(tensor.data[0], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise bad_request("input IMAGE: data is not base64") from exc


def client_boxes(tensor: TensorInput, binary: bytes | None, max_boxes: int) -> list[Box]:
    """The BOXES tensor (FP32 [N, 4]) -> client boxes (checked as the v1 `boxes` field)."""
    if tensor.datatype not in ("FP32", "FP64", "INT32", "INT64") or len(tensor.shape) != 2 \
            or tensor.shape[1] != 4 or tensor.shape[0] < 0:
        raise bad_request("input BOXES: numbers of shape [N, 4]")
    if binary is not None:
        dtype = {"FP32": "<f4", "FP64": "<f8", "INT32": "<i4", "INT64": "<i8"}[tensor.datatype]
        if len(binary) != tensor.shape[0] * 4 * np.dtype(dtype).itemsize:
            raise bad_request("input BOXES: binary data does not match its shape")
        values: list[Any] = np.frombuffer(binary, dtype=dtype).astype(float).tolist()
    else:
        values = list(np.ravel(np.asarray(tensor.data or [], dtype=object)))
    if len(values) != tensor.shape[0] * 4:
        raise bad_request("input BOXES: data does not match its shape")
    if any(isinstance(v, int | float) and abs(v) > FP32_MAX for v in values):
        # each box comes back in the FP32 BOXES output: one FP32 cannot hold would be inf
        raise ApiError(422, "invalid_boxes", f"input BOXES: values beyond FP32's +-{FP32_MAX:.4g}")
    return _boxes_from([values[i:i + 4] for i in range(0, len(values), 4)], max_boxes)


def outputs(poses: list[Pose], layout: KeypointLayout,
            requested: list[RequestedOutput] | None) -> list[TensorOutput]:  # fmt: skip
    """Poses -> KEYPOINTS (P, K, 3) (x, y, score; 0, 0, 0 where a joint was not found), SCORES
    (P,), BOXES (P, 4) (zeros for a pose without a box), as requested (default: all three)."""
    keypoints = np.zeros((len(poses), len(layout.names), 3), dtype=np.float32)  # (P, K, 3)
    for i, pose in enumerate(poses):
        chosen = layout.select(pose.keypoints)
        keypoints[i] = np.where(chosen[:, 2:3] > 0, chosen, 0.0)
    scores = np.array([p.score for p in poses], dtype=np.float32)  # (P,)
    boxes = np.array([p.box.as_list() if p.box else [0.0] * 4 for p in poses],
                     dtype=np.float32).reshape(-1, 4)  # (P, 4)
    tensors = {"KEYPOINTS": keypoints, "SCORES": scores, "BOXES": boxes}
    names = [o.name for o in requested] if requested else list(tensors)
    return [TensorOutput(name=n, datatype="FP32", shape=list(tensors[n].shape),
                         data=[float(v) for v in tensors[n].ravel()]) for n in names]  # fmt: skip


def error_body(message: str) -> bytes:
    return json.dumps({"error": message}).encode()
