"""The composed movenet-fields module (issue 27): MoveNet's trunk (a stand-in here) + the field
head scripts into one module answering maps, fields and box rows; saved with its export manifest
it is served with its own box head and no detector. (tests/api/test_api_movenet_fields.py serves
the real export over HTTP when the npm tarball is there.)"""

# (No `from __future__ import annotations`: TorchScript reads the stand-in's annotations.)

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from service.config import Settings
from service.importers.movenet_fields_export import manifest
from service.network.export import save_model
from service.network.movenet_fields import (
    FIELD_CHANNELS,
    FPN_CHANNELS,
    MOVENET_JOINTS,
    FieldHead,
    MoveNetFields,
)
from service.parsing.peaks import find_peaks
from service.runtime.factory import detector_for, load_pipeline
from service.runtime.protocol import ImageInput, PipelineConfig
from service.skeleton import COCO18


class StandInTrunk(nn.Module):
    """(B, 3, H, W) padded to 32 -> MoveNet's six heads and the FPN at stride 4: one person
    centre at cell (`row`, `col`) with a box 10 cells tall and 6 wide; the rest flat."""

    row: int
    col: int
    joints: int

    def __init__(self, row: int, col: int) -> None:
        super().__init__()
        self.row, self.col, self.joints = row, col, MOVENET_JOINTS
        self.fpn = nn.Conv2d(3, FPN_CHANNELS, 1)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                                    torch.Tensor, torch.Tensor, torch.Tensor,
                                                    torch.Tensor]:  # fmt: skip
        x = F.avg_pool2d(image / 255.0, 4)  # (B, 3, h, w)
        b, _, h, w = x.shape
        centre = torch.zeros(b, 1, h, w)
        centre[:, 0, self.row, self.col] = 0.9
        scale = torch.cat([torch.full((b, 1, h, w), 10.0), torch.full((b, 1, h, w), 6.0)], 1)
        zeros = torch.zeros(b, 2 * self.joints, h, w)
        regress = torch.tensor([1.0, -2.0]).repeat(self.joints)[None, :, None, None].expand(
            b, 2 * self.joints, h, w)  # every joint 1 cell down, 2 left of its centre
        heatmaps = torch.zeros(b, self.joints, h, w)
        return (centre, heatmaps, regress, zeros, scale, torch.zeros(b, 2, h, w),
                torch.relu(self.fpn(x)))  # fmt: skip


def composed() -> MoveNetFields:
    return MoveNetFields(StandInTrunk(12, 20), FieldHead().eval(), max_boxes=4).eval()


def test_the_composed_module_scripts_and_answers_maps_fields_and_boxes() -> None:
    module = composed()
    script = torch.jit.script(module)
    image = torch.rand(1, 3, 100, 130) * 255  # padded inside to 128 x 160
    with torch.inference_mode():
        eager, scripted = module(image), script(image)
    maps, fields, boxes = scripted
    assert maps.shape == (1, COCO18.num_joints + 1, 32, 40)
    assert fields.shape == (1, FIELD_CHANNELS, 32, 40)
    assert boxes.shape == (1, 4, 5 + 2 * COCO18.num_joints)  # + the regressed joints
    for a, b in zip(eager, scripted, strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    # centre cell (12, 20) = pixel (80, 48); 6 x 10 cells = 24 x 40 px
    assert torch.allclose(boxes[0, 0, :5], torch.tensor([68.0, 28.0, 92.0, 68.0, 0.9]))
    # each joint at (col + dx, row + dy) x 4 = (18, 13) x 4; the neck between the shoulders
    assert torch.allclose(boxes[0, 0, 5:].reshape(-1, 2), torch.tensor([72.0, 52.0]))
    assert torch.allclose(maps[:, -1], 1.0 - maps[:, :-1].max(1)[0])  # background


class PeakedTrunk(StandInTrunk):
    """The stand-in with one joint's heatmap a Gaussian (sigma 1 cell) peaked at cell (`row`,
    `col`) and MoveNet's sub-cell offsets half a cell there (their mean at peaks): MoveNet puts
    that joint at 4 (cell + 0.5) in TF's continuous frame, index pixel 4 cell + 1.5."""

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                                    torch.Tensor, torch.Tensor, torch.Tensor,
                                                    torch.Tensor]:  # fmt: skip
        centre, heatmaps, regress, offsets, scale, box_offset, fpn = super().forward(image)
        h, w = heatmaps.shape[-2:]
        yy = torch.arange(h, dtype=torch.float32)[:, None] - self.row
        xx = torch.arange(w, dtype=torch.float32)[None, :] - self.col
        heatmaps = heatmaps.clone()
        heatmaps[:, 9] = 0.8 * torch.exp(-(yy * yy + xx * xx) / 2.0)  # the left wrist
        return centre, heatmaps, regress, offsets + 0.5, scale, box_offset, fpn


def test_a_joint_lands_where_movenet_puts_it() -> None:
    """The served joint maps keep MoveNet's grid, which is the project's (cell i centred on
    input pixel 4 i + 1.5): the wrist's candidate is at MoveNet's own placement, (4 x 20 + 2,
    4 x 12 + 2) - 0.5. Moved 3/8 of a cell on, as the field head's inputs are, it was 2 px up
    and left of it."""
    module = MoveNetFields(PeakedTrunk(12, 20), FieldHead().eval(), max_boxes=4).eval()
    with torch.inference_mode():
        maps, _, _ = module(torch.rand(1, 3, 100, 130) * 255)
    cands = find_peaks(maps[0].numpy(), 4, 0.1)
    (wrist,) = np.flatnonzero(cands.joint == 9)
    assert np.allclose(cands.xy[wrist], [4 * 20 + 1.5, 4 * 12 + 1.5], atol=1e-3)


def test_served_it_takes_its_own_box_head_and_loads_no_detector(tmp_path: Path) -> None:
    script = torch.jit.script(composed())
    params = sum(p.numel() for p in script.parameters())
    save_model(script, tmp_path / "movenet-fields",
               manifest("movenet-fields", "t.tgz", "0" * 64, params, {}))  # fmt: skip
    settings = Settings(pose_model="movenet-fields", model_store=tmp_path)
    assert detector_for(settings.runtime()) is None
    pipeline = load_pipeline("movenet-fields", None, "cpu", tmp_path, PipelineConfig())
    image = np.full((128, 160, 3), 90, np.uint8)
    (found,) = pipeline.detect_missing([ImageInput(image, None, (1.0,))])
    assert found is not None and [b.source for b in found] == ["box_head"]
    assert np.allclose([found[0].x1, found[0].y1, found[0].x2, found[0].y2],
                       [68.0, 28.0, 92.0, 68.0], atol=0.5)  # fmt: skip
    # the box carries its regressed joints (Box.joints, box units), back in pixels here
    assert np.allclose(found[0].joint_points(), [72.0, 52.0], atol=0.5)


def test_onnx_runtime_runs_its_trunk_and_answers_as_the_torchscript_file(tmp_path: Path) -> None:
    """The ONNX engine (issue 26: every bundled model has one): the trunk in ONNX, the padding,
    the field head and the box decoding around it in PyTorch, by the module's own class;
    checked at derivation, and equal here on an image of another size and batch."""
    from service.runtime import engines
    from service.runtime.model_store import load_model

    script = torch.jit.script(composed())
    save_model(script, tmp_path / "store" / "movenet-fields",
               manifest("movenet-fields", "t.tgz", "0" * 64, 1, {}))  # fmt: skip
    model = load_model("movenet-fields", tmp_path / "store")
    onnx = engines.onnx_for(model, tmp_path / "cache")
    assert set(onnx.record.parts) == {"trunk"}
    assert max(onnx.record.max_deviation.values()) <= engines.TOLERANCE
    image = engines.sample_image((2, 3, 77, 203))
    got, expected = engines.outputs_of(onnx.module, image), engines.outputs_of(model.module, image)
    assert [tuple(t.shape) for t in got] == [tuple(t.shape) for t in expected]
    assert engines.deviation(got, expected) <= engines.TOLERANCE
