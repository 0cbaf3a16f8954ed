"""Frozen detector configurations and the named presets ("lite" for serving, "tiny" for tests)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DetectorConfig:
    """A small CenterNet-style single-class detector and its inference contract.

    The backbone halves the resolution `len(widths)` times after a stride-2 stem (stride 32 for
    four widths) so that people filling the whole frame stay inside the receptive field; a
    top-down path with lateral connections brings the features back to `output_stride`.
    """

    name: str
    stem_width: int = 16
    widths: tuple[int, ...] = (24, 48, 96, 128)  # one ResNet-like stage per width, stride 2 each
    blocks: tuple[int, ...] = (1, 2, 2, 2)  # basic blocks per stage
    fpn_channels: int = 64
    head_channels: int = 32
    output_stride: int = 8  # stride of the heatmap / size / offset outputs
    # Working resolution: the module resizes the input so its long side is this, keeping the
    # aspect ratio, then pads right/bottom to a multiple of `pad_multiple` (the backbone stride).
    input_long_side: int = 512
    max_detections: int = 50  # K rows in the output
    score_threshold: float = 0.01  # rows below it become padding (score 0)
    heatmap_bias: float = -2.19  # CenterNet: sigmoid(-2.19) = 0.1 prior
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)

    @property
    def backbone_stride(self) -> int:
        return 2 ** (len(self.widths) + 1)

    @property
    def pad_multiple(self) -> int:
        return self.backbone_stride

    def __post_init__(self) -> None:
        if len(self.widths) != len(self.blocks):
            raise ValueError("widths and blocks need one entry per stage")
        if self.output_stride < 4 or self.output_stride > self.backbone_stride:
            raise ValueError(f"output_stride {self.output_stride} not in 4..{self.backbone_stride}")
        if self.output_stride & (self.output_stride - 1):
            raise ValueError("output_stride must be a power of two")


DETECTOR_PRESETS: dict[str, DetectorConfig] = {
    "lite": DetectorConfig(name="lite"),
    "tiny": DetectorConfig(
        name="tiny", stem_width=8, widths=(8, 16, 16, 24), blocks=(1, 1, 1, 1),
        fpn_channels=16, head_channels=8, input_long_side=128, max_detections=10,
    ),
}
