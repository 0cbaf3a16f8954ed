"""manifest.json (a dict) -> `Manifest`: the typed keys that drive the runtime, checked at load.

A manifest also carries many descriptive keys (licence, source, training, validation, ...):
they are kept as extras, readable with `manifest["key"]` / `manifest.get("key")` for reports and
tests. Behaviour reads only the typed fields below.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Kind = Literal["pose", "detector", "topdown"]  # topdown: person crops -> one pose each


class _Block(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class BoxHeadSpec(_Block):
    """A bottom-up model's own box head: (maps, fields, boxes (B, K, 5)) in one call; rows of
    5 + 2 J columns add the joints the head regressed for each box (`Box.joints`)."""

    recommended_score_threshold: float = Field(default=0.3, ge=0.0, le=1.0)
    max_boxes: int = Field(default=64, ge=1)


class CropSpec(_Block):
    """How a top-down model's crop is cut from a person box (runtime/crops.py)."""

    size: int = Field(default=256, ge=1)  # crop side in pixels
    grow: float = Field(default=0.25, ge=0.0)  # the square's side: (1 + grow) x the long side
    min_pose_flag: float = Field(default=0.5, ge=0.0, le=1.0)  # below: no person in the crop
    max_crops: int = Field(default=32, ge=1)  # crops per forward call


class PersonScaleSpec(_Block):
    """A bottom-up model's person scale (runtime/person_scale.py)."""

    person_size: float = Field(gt=0.0)  # px: a person box's long side at the pose net's input
    box_long_side: tuple[int, ...] = ()  # px: the box pass's image sizes
    min_scale: float = Field(default=0.25, gt=0.0)
    max_scale: float = Field(default=2.0, gt=0.0)
    span_octaves: float = Field(default=1.0, ge=0.0)
    max_passes: int = Field(default=3, ge=1)

    @field_validator("box_long_side", mode="before")
    @classmethod
    def _one_or_several(cls, value: object) -> object:
        return (value,) if isinstance(value, int | float) else value


class DetectorOutputSpec(_Block):
    """A detector's output: (B, K, 5) rows; `keypoints` set when `detect()` also gives
    BlazePose's alignment keypoints (B, K, 13)."""

    keypoints: Any = None


class EnginesSpec(_Block):
    """Engines measured side by side on a CPU (bench/engines.py --record)."""

    cpu_faster: Literal["torchscript", "onnxruntime"] | None = None


class ParserSpec(_Block):
    """Parser settings the model serves best with (ParserConfig's; a setting left None in the
    pipeline's configuration takes the model's)."""

    search_extension: float | None = Field(default=None, ge=0.0)
    connection_peak_weight: float | None = Field(default=None, ge=0.0)
    regression_reach: float | None = Field(default=None, ge=0.0)


class InternalSpec(_Block):
    score_threshold: float | None = None  # the module's own floor


class Manifest(_Block):
    """The typed part of a model's manifest.json."""

    kind: Kind
    file: str = Field(min_length=1)
    sha256: str = Field(min_length=1)
    name: str | None = None
    version: str = ""
    skeleton: dict[str, Any] | None = None  # Skeleton.from_dict; required for pose kinds
    output_stride: int = Field(default=1, ge=1)
    working_size: int | None = Field(default=None, ge=0)  # None: DEFAULT_WORKING_SIZE
    # The detector to serve with: a name, or names by preference (the first the store holds)
    default_detector: str | tuple[str, ...] | None = None
    recommended_score_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    box_head: BoxHeadSpec | None = None
    person_scale: PersonScaleSpec | None = None
    parser: ParserSpec = ParserSpec()
    crop: CropSpec = CropSpec()
    output: DetectorOutputSpec = DetectorOutputSpec()
    internal: InternalSpec = InternalSpec()
    preset: str | None = None  # a service.network preset: the project's own network
    engines: EnginesSpec = EnginesSpec()  # runtime/engines.py: BOXPOSE_ENGINE=auto reads it

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int | float) else value

    @property
    def aligned(self) -> bool:
        """A detector whose `detect()` gives BlazePose's alignment keypoints."""
        return self.output.keypoints is not None

    def __getitem__(self, key: str) -> Any:
        """A key as manifest.json has it (descriptive keys: for reports and tests)."""
        return self.model_dump(exclude_unset=True)[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.model_dump(exclude_unset=True).get(key, default)
