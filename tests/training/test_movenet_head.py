"""The field head on MoveNet's features (issue 27): shapes, the grid shift, the in-module box
decoding, the cache's resampling onto our grid, the recipes' targets, and training that resumes
from its checkpoint where it stopped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from service.network.movenet_fields import (
    FIELD_CHANNELS,
    FPN_CHANNELS,
    MOVENET_JOINTS,
    FieldHead,
    FieldHeadConfig,
    RegressionFields,
    centre_boxes,
    shift_to_project_grid,
)
from service.skeleton import COCO18
from service.training.checkpoint import read_checkpoint
from service.training.movenet_cache import _resample, aic14_to_coco18
from service.training.movenet_gates import gate_targets, truth_cosine
from service.training.movenet_head import RECIPES, TrainConfig, targets_of, train


def test_head_shapes_and_script() -> None:
    head = FieldHead().eval()
    features, heatmaps = torch.rand(2, FPN_CHANNELS, 24, 32), torch.rand(2, MOVENET_JOINTS, 24, 32)
    regress = torch.randn(2, 2 * MOVENET_JOINTS, 24, 32) * 5
    out = head(features, heatmaps, regress)
    assert out.shape == (2, 1 + FIELD_CHANNELS, 24, 32)
    assert torch.allclose(torch.jit.script(head)(features, heatmaps, regress), out, atol=1e-5)


def test_regression_fields_point_along_the_regressed_limb() -> None:
    regress = torch.zeros(1, 2 * MOVENET_JOINTS, 1, 1)
    ls, le = COCO18.joints.index("left_shoulder"), COCO18.joints.index("left_elbow")
    regress[0, 2 * ls:2 * ls + 2, 0, 0] = torch.tensor([-2.0, 0.0])  # 2 cells above the cell
    regress[0, 2 * le:2 * le + 2, 0, 0] = torch.tensor([3.0, 0.0])  # 3 below: on the segment
    fields, band, _ = RegressionFields()(regress)
    c = COCO18.limbs.index((ls, le))
    assert torch.isclose(band[0, c, 0, 0], torch.tensor(1.0))
    assert torch.allclose(fields[0, 2 * c:2 * c + 2, 0, 0], torch.tensor([0.0, 1.0]))


def test_shift_moves_a_peak_three_eighths_of_a_cell() -> None:
    x = torch.zeros(1, 1, 8, 8)
    x[0, 0, 4, 4] = 1.0  # MoveNet's cell 4 = pixel 16; ours 3 and 4 are pixels 13.5 and 17.5
    y = shift_to_project_grid(x)[0, 0]
    assert torch.isclose(y[3, 3], torch.tensor(0.375**2))
    assert torch.isclose(y[4, 4], torch.tensor(0.625**2))


def test_centre_boxes_decode_peaks_strongest_first() -> None:
    centre = torch.zeros(1, 1, 20, 20)
    centre[0, 0, 5, 5], centre[0, 0, 12, 14] = 0.9, 0.6
    scale = torch.full((1, 2, 20, 20), 4.0)  # 4 cells tall and wide
    offset = torch.zeros(1, 2, 20, 20)
    rows = centre_boxes(centre, scale, offset, (80, 80), max_boxes=3)
    assert rows.shape == (1, 3, 5)
    assert torch.allclose(rows[0, 0], torch.tensor([12.0, 12.0, 28.0, 28.0, 0.9]))
    assert torch.allclose(rows[0, 1], torch.tensor([48.0, 40.0, 64.0, 56.0, 0.6]))
    assert rows[0, 2, 4] == 0.0
    # with MoveNet's regression: each row goes on with its centre cell's joints, x then y in
    # pixels ((col + dx) * 4, (row + dy) * 4), COCO-18: the neck between the two shoulders
    regress = torch.zeros(1, 34, 20, 20)
    regress[0, 0, 5, 5], regress[0, 1, 5, 5] = -2.0, 1.0  # nose: 2 cells up, 1 right
    regress[0, 10, 5, 5], regress[0, 12, 5, 5] = 1.0, 3.0  # shoulders 1 and 3 cells down
    rows = centre_boxes(centre, scale, offset, (80, 80), max_boxes=3, regress=regress)
    assert rows.shape == (1, 3, 5 + 36)
    joints = rows[0, 0, 5:].reshape(18, 2)
    assert torch.allclose(joints[0], torch.tensor([24.0, 12.0]))
    assert torch.allclose(joints[5:7], torch.tensor([[20.0, 24.0], [20.0, 32.0]]))
    assert torch.allclose(joints[17], torch.tensor([20.0, 28.0]))  # the neck
    assert torch.allclose(rows[0, 1, 5:].reshape(18, 2)[1], torch.tensor([56.0, 48.0]))


def test_resample_puts_the_teachers_cells_on_ours() -> None:
    # a ramp equal to the teacher's own pixel x: sampled at our cells it reads our pixel x,
    # scaled by the teacher's factor (1.5): (4 j + 1.5 + 0.5) * 1.5 - 0.5
    w8, ts = 12, 1.5
    teacher_px = (torch.arange(w8, dtype=torch.float32) + 0.5) * 8 - 0.5
    x = teacher_px.repeat(1, 1, 6, 1)  # (1, 1, 6, 12)
    out = _resample(x, (4, 8), 4 / (8 / ts))
    ours = (np.arange(8) * 4 + 2.0) * ts - 0.5
    assert np.allclose(out[0, 0, 1:], ours[1:], atol=1e-4)  # cell 0 lies before the first


def test_lsp_joints_reach_coco18_with_the_shoulder_neck() -> None:
    kp = np.zeros((1, 14, 3))
    kp[0, 0] = [10, 20, 2]  # right shoulder
    kp[0, 3] = [30, 20, 2]  # left shoulder
    kp[0, 13] = [20, 5, 2]  # LSP's neck (at the chin): not COCO-18's
    out = aic14_to_coco18(kp)
    assert out.shape == (1, 18, 3)
    assert np.allclose(out[0, 17], [20, 20, 2]) and out[0, :5, 2].sum() == 0


def test_truth_replaces_the_teacher_in_its_band_only() -> None:
    teacher = torch.full((1, 35, 2, 2), 0.2)
    truth = torch.zeros(1, 35, 2, 2)
    truth[0, 0, 0, 0], truth[0, 1, 0, 0], truth[0, 34, 1, 1] = 1.0, 0.0, 0.9
    target, weight = targets_of(teacher, truth, RECIPES["truth"])
    assert target[0, 0, 0, 0] == 1.0 and target[0, 1, 0, 0] == 0.0  # both channels of limb 0
    assert target[0, 0, 1, 1] == 0.2 and target[0, 34, 1, 1] == 0.9
    assert weight[0, 0, 0, 0] > weight[0, 0, 1, 1]
    plain, _ = targets_of(teacher, truth, RECIPES["teacher"])
    assert torch.equal(plain, teacher)


def _fake_cache(folder: Path, shards: int = 3, n: int = 4, g: int = 16) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir()
    for k in range(shards):
        np.savez(folder / f"shard_{k:04d}.npz",
                 features=rng.random((n, FPN_CHANNELS, g, g)).astype(np.float16),
                 heatmaps=rng.integers(0, 255, (n, MOVENET_JOINTS, g, g), dtype=np.uint8),
                 teacher=rng.integers(-60, 60, (n, 35, g, g), dtype=np.int8),
                 truth=np.zeros((n, 35, g, g), np.int8),
                 valid=np.full((n, 2), g, np.int16))  # fmt: skip


def test_head_without_correction_serves_gated_regression_fields() -> None:
    head = FieldHead(FieldHeadConfig(correction=False)).eval()
    features, heatmaps = torch.rand(1, FPN_CHANNELS, 8, 8), torch.rand(1, MOVENET_JOINTS, 8, 8)
    regress = torch.randn(1, 2 * MOVENET_JOINTS, 8, 8) * 3
    neck, gate_logit, correction, fields = head.parts(features, heatmaps, regress)
    assert torch.equal(correction, torch.zeros_like(correction))
    gate = torch.sigmoid(gate_logit).repeat_interleave(2, 1)
    out = torch.jit.script(head)(features, heatmaps, regress)
    assert torch.allclose(out[:, 1:], fields * gate, atol=1e-6)
    assert torch.allclose(out[:, :1], neck, atol=1e-6)


def test_gate_target_is_the_truths_band_or_the_teachers_scaled_magnitude() -> None:
    teacher, truth = torch.zeros(1, 35, 1, 3), torch.zeros(1, 35, 1, 3)
    truth[0, 2, 0, 0] = -0.5  # limb 1 annotated at cell 0 (x only)
    teacher[0, 2, 0, 1], teacher[0, 3, 0, 1] = 0.09, 0.12  # limb 1 seen by the teacher: 0.15
    target, band = gate_targets(teacher, truth, gate_scale=0.3)
    assert target.shape == band.shape == (1, 17, 1, 3)
    assert torch.allclose(target[0, 1, 0], torch.tensor([1.0, 0.5, 0.0]))
    assert band[0, 1, 0].tolist() == [True, False, False] and not band[0, 0].any()
    alone, _ = gate_targets(teacher, truth, gate_scale=0.3, use_teacher=False)
    assert torch.allclose(alone[0, 1, 0], torch.tensor([1.0, 0.0, 0.0]))


def test_truth_cosine_ignores_magnitude_and_sees_direction() -> None:
    truth = torch.zeros(1, 35, 1, 2)
    truth[0, 0, 0, :] = 1.0  # limb 0 points along +x at both cells
    fields = torch.zeros(1, 34, 1, 2)
    fields[0, 0, 0, 0] = 0.1  # short but right
    fields[0, 0, 0, 1], fields[0, 1, 0, 1] = -1.0, 1.0  # long but 135 degrees off
    cos = truth_cosine(fields, truth)[0, 0, 0]
    assert torch.isclose(cos[0], torch.tensor(1.0)) and cos[1] < -0.7


@pytest.mark.parametrize("recipe", ["truth", "gates"])
def test_training_resumes_from_its_checkpoint(tmp_path: Path, recipe: str) -> None:
    _fake_cache(tmp_path / "cache")
    checkpoint = tmp_path / "head.pt"
    config = TrainConfig(recipe=recipe, steps=6, batch=2, crop=8, validate_every=3,
                         snapshot_every=2)  # fmt: skip
    regress = torch.nn.Conv2d(FPN_CHANNELS, 2 * MOVENET_JOINTS, 1).requires_grad_(False)
    first = train(tmp_path / "cache", checkpoint, config, 60.0, regress, until=3, log=False,
                  snapshots=tmp_path / "snaps")  # fmt: skip
    assert first.step == 3
    weights = read_checkpoint(checkpoint)["model"]
    second = train(tmp_path / "cache", checkpoint, config, 60.0, regress, log=False)
    assert second.step == 6 and second.seconds >= first.seconds
    after = read_checkpoint(checkpoint)["model"]
    assert any(not torch.equal(weights[k], after[k]) for k in weights)
    rows = (tmp_path / "head-steps.csv").read_text().splitlines()
    assert len(rows) == 1 + 6 and rows[-1].startswith("6,")
    assert [p.name for p in sorted((tmp_path / "snaps").iterdir())] == ["step-00002.pt"]
    assert read_checkpoint(tmp_path / "snaps" / "step-00002.pt")["progress"]["step"] == 2
