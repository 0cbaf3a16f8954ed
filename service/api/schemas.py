"""Poses, models and errors -> the JSON bodies of the API (pydantic models, in the OpenAPI doc)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from service.runtime.keypoint_output import KeypointLayout
from service.runtime.model_store import LoadedModel
from service.runtime.serialise import pose_dict
from service.types import Pose


class ModelRef(BaseModel):
    name: str = Field(examples=["pose-lite"])
    version: str


class ImageSize(BaseModel):
    width: int
    height: int


class Person(BaseModel):
    box: list[float] = Field(description="[x1, y1, x2, y2] in the original image's pixels")
    box_source: str = Field(
        description="detector, box_head (the pose model's own), client, greedy (no boxes), "
                    "or track (video and streams: where a person tracked in the earlier frames "
                    "is now)"
    )
    score: float = Field(description="pose confidence; 0 for a given box where nobody was found")
    keypoints: list[list[float] | None] = Field(
        description="one entry per name in keypoint_names: [x, y, score] in the original "
        "image's pixels, null if not found (all null for a given box where nobody was found)"
    )


class Timings(BaseModel):
    queue: float
    detect: float
    forward: float
    parse: float
    total: float


class PoseResponse(BaseModel):
    model: ModelRef
    image: ImageSize
    keypoint_names: list[str] = Field(
        description="what each persons[].keypoints entry is: the skeleton's joints in order; "
        "COCO's 17 for a COCO-18 model (with keep_neck=true, the neck last)",
        examples=[["nose", "left_eye", "right_eye", "..."]],
    )
    persons: list[Person]
    timings_ms: Timings


class BatchResponse(BaseModel):
    results: list[PoseResponse] = Field(description="one result per image, in request order")


class SkeletonSchema(BaseModel):
    joints: list[str]
    limbs: list[list[int]]


class ModelDescription(BaseModel):
    name: str
    version: str
    kind: str
    skeleton: SkeletonSchema | None
    stride: int
    device: str
    sha256: str
    engine: str = Field(default="torchscript", description="what runs the forward: "
                        "torchscript or onnxruntime (BOXPOSE_ENGINE)")


class ModelsResponse(BaseModel):
    models: list[ModelDescription]
    parser: str = Field(description="how maps become people: a parser of service.parsing "
                        "(BOXPOSE_PARSER: boxes or greedy)", examples=["boxes"])


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


class Status(BaseModel):
    status: str


def person(pose: Pose, layout: KeypointLayout | None = None) -> Person:
    return Person(**pose_dict(pose, layout))


def describe(model: LoadedModel) -> ModelDescription:
    skeleton = None
    if model.skeleton is not None:
        skeleton = SkeletonSchema(
            joints=list(model.skeleton.joints), limbs=[list(limb) for limb in model.skeleton.limbs]
        )
    return ModelDescription(
        name=model.name, version=model.version, kind=model.kind, skeleton=skeleton,
        stride=model.stride, device=model.device, sha256=model.sha256, engine=model.engine,
    )  # fmt: skip


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in (
        (400, "undecodable image or malformed request"),
        (401, "wrong or missing API key (when one is configured)"),
        (413, "body or pixel count over the limit"),
        (415, "unsupported content or image type"),
        (422, "malformed boxes or parameters"),
        (500, "inference failed for this request's batch"),
        (503, "overloaded, deadline exceeded or not ready (Retry-After)"),
    )
}
