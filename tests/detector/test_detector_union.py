"""The detector union (service/detector/union.py): the primary's rows above its threshold, the
supplement's boxes (found at its long side, brought back to the input's pixels) above its own
and overlapping none of them, sorted by score; upright alignment keypoints for the supplement;
exported into a store, loaded and served as a detector."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from service.detector.union import DetectorUnion, export_union, pairwise_iou
from service.runtime.model_store import ModelStoreError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))
from runtime_fakes import make_scene, make_store, write_model  # noqa: E402

WIDTH, HEIGHT = 320, 240


class Primary(torch.nn.Module):
    """A BlazePose-detector stand-in: fixed (K, 13) rows with alignment keypoints."""

    def __init__(self, rows: torch.Tensor) -> None:
        super().__init__()
        self.rows = torch.nn.Parameter(rows[None], requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.detect(x)[..., :5]

    @torch.jit.export
    def detect(self, x: torch.Tensor) -> torch.Tensor:
        return self.rows.expand(x.shape[0], -1, -1).to(x.dtype)


class BoxHead(torch.nn.Module):
    """A box-head pose model stand-in: rows given for a WIDTH-wide image, scaled with the width
    of the image it sees (as a real head's boxes follow its input); empty maps and fields."""

    def __init__(self, rows: torch.Tensor) -> None:
        super().__init__()
        self.rows = torch.nn.Parameter(rows[None], requires_grad=False)
        self.width = WIDTH

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        factor = torch.ones(5, dtype=x.dtype)
        factor[:4] = x.shape[3] / self.width
        empty = torch.zeros(x.shape[0], 1, 1, 1, dtype=x.dtype)
        return empty, empty, (self.rows.to(x.dtype) * factor).expand(x.shape[0], -1, -1)


def primary_row(box: list[float], score: float) -> list[float]:
    x1, y1, x2, y2 = box
    return [*box, score, (x1 + x2) / 2, y2, (x1 + x2) / 2 + 30, y1, 0, 0, 0, 0]  # tilted


A = [10.0, 10.0, 110.0, 210.0]  # primary, kept (0.9)
B = [200.0, 20.0, 300.0, 220.0]  # primary below its threshold (0.3 < 0.5)
C = [12.0, 15.0, 108.0, 205.0]  # supplement on A: IoU 0.91 -> dropped
D = [204.0, 24.0, 296.0, 216.0]  # supplement on B (which was dropped): kept (0.6)
E = [150.0, 0.0, 170.0, 40.0]  # supplement below its threshold (0.1 < 0.2)
F = [130.0, 100.0, 190.0, 230.0]  # supplement alone: kept (0.25)


def union(long_side: int = 160) -> DetectorUnion:
    first = torch.tensor([primary_row(A, 0.9), primary_row(B, 0.3), [0.0] * 13])
    second = torch.tensor([[*C, 0.8], [*D, 0.6], [*E, 0.1], [*F, 0.25], [0.0] * 5])
    return DetectorUnion(Primary(first), BoxHead(second), 0.5, 0.2, 0.3, long_side)


def test_iou_matches_its_equation() -> None:
    a = torch.tensor([[[0.0, 0.0, 10.0, 10.0]]])
    b = torch.tensor([[[5.0, 0.0, 15.0, 10.0], [20.0, 20.0, 30.0, 30.0]]])
    assert torch.allclose(pairwise_iou(a, b), torch.tensor([[[50 / 150, 0.0]]]))


@pytest.mark.parametrize("scripted", [False, True])
def test_union_keeps_the_primary_and_adds_what_it_missed(scripted: bool) -> None:
    module = torch.jit.script(union()) if scripted else union()
    images = torch.zeros(2, 3, HEIGHT, WIDTH)
    rows = module.detect(images)
    assert rows.shape == (2, 3 + 5, 13)
    assert torch.equal(rows[0], rows[1])
    kept = rows[0][rows[0, :, 4] > 0]
    assert kept[:, 4].tolist() == pytest.approx([0.9, 0.6, 0.25])  # sorted by score
    assert kept[0].tolist() == pytest.approx(primary_row(A, 0.9))  # the primary's row as given
    # the supplement's boxes, found on the 160-px image, back in the input's pixels
    assert kept[1, :4].tolist() == pytest.approx(D, abs=1e-4)
    assert kept[2, :4].tolist() == pytest.approx(F, abs=1e-4)
    # upright alignment: hip centre at the box centre, body point straight above (angle 0)
    cx, cy = (D[0] + D[2]) / 2, (D[1] + D[3]) / 2
    assert kept[1, 5:9].tolist() == pytest.approx([cx, cy, cx, D[1]], abs=1e-4)
    assert torch.count_nonzero(rows[0][rows[0, :, 4] == 0]) == 0  # padding rows stay zero
    assert torch.equal(module(images), rows[..., :5])


def test_the_supplement_sees_the_image_at_its_long_side() -> None:
    seen: list[tuple[int, int]] = []
    module = union(long_side=256)
    forward = module.supplement.forward

    def spy(x: torch.Tensor):  # type: ignore[no-untyped-def]
        seen.append((int(x.shape[2]), int(x.shape[3])))
        return forward(x)

    module.supplement.forward = spy  # type: ignore[method-assign]
    rows = module.detect(torch.zeros(1, 3, HEIGHT, WIDTH))
    assert seen == [(192, 256)]  # 240 x 320 brought to a 256-px long side
    assert rows[0, 1, :4].tolist() == pytest.approx(D, abs=1e-4)


def test_export_into_a_store_and_serve_it(tmp_path: Path) -> None:
    from service.runtime.factory import load_pipeline
    from service.runtime.protocol import PipelineConfig

    scene = make_scene()
    store = make_store(tmp_path, scene)
    write_model(store, "primary", Primary(torch.tensor([primary_row(scene.boxes[0], 0.9)])),
                "detector")
    _manifest(store / "primary", {"recommended_score_threshold": 0.5,
                                  "output": {"K": 1, "keypoints": "..."}, "input": {}})
    write_model(store, "boxes", BoxHead(torch.tensor([[*scene.boxes[1], 0.7]])), "pose")
    _manifest(store / "boxes", {"box_head": {"recommended_score_threshold": 0.2, "max_boxes": 1},
                                "person_scale": {"person_size": 200, "box_long_side": 160}})
    out = export_union(store, "detector-union", "primary", "boxes", verify_grow=0.0)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "detector" and manifest["recommended_score_threshold"] == 0.2
    assert manifest["union"] == {"primary_threshold": 0.5, "supplement_threshold": 0.2,
                                 "max_iou": 0.3, "supplement_long_side": 160, "verify_grow": 0.0,
                                 "verify_threshold": 0.3, "verify_size": 224}  # fmt: skip
    assert manifest["output"]["K"] == 2
    pipeline = load_pipeline("pose-fixed", "detector-union", "cpu", store,
                                   PipelineConfig())
    poses = pipeline.predict(scene.image).poses
    found = sorted([p.box.x1, p.box.y1, p.box.x2, p.box.y2] for p in poses if p.box)
    assert len(poses) == 2 and np.allclose(found, sorted(scene.boxes), atol=1e-3)
    with pytest.raises(ModelStoreError, match="no box head"):
        export_union(store, "bad", "primary", "pose-fixed")
    with pytest.raises(ModelStoreError, match="alignment keypoints"):
        export_union(store, "bad", "detector-fixed", "boxes")


def test_export_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from service.cli import main

    scene = make_scene()
    store = make_store(tmp_path, scene)
    write_model(store, "primary", Primary(torch.zeros(1, 13)), "detector")
    _manifest(store / "primary", {"recommended_score_threshold": 0.5,
                                  "output": {"K": 1, "keypoints": "..."}, "input": {}})
    write_model(store, "boxes", BoxHead(torch.zeros(1, 5)), "pose")
    _manifest(store / "boxes", {"box_head": {"recommended_score_threshold": 0.2}})
    assert main(["export", "--union", "primary", "boxes", "--store", str(store),
                 "--union-max-iou", "0.4", "--union-verify-grow", "1.5"]) == 0
    manifest = json.loads((store / "detector-union" / "manifest.json").read_text())
    assert manifest["union"]["max_iou"] == 0.4 and manifest["union"]["supplement_long_side"] == 256
    assert manifest["union"]["verify_grow"] == 1.5 and manifest["union"]["verify_threshold"] == 0.3
    assert main(["export", "--union", "primary", "boxes", "--store", str(store),
                 "--union-verify-threshold", "0"]) == 2
    assert "verify_threshold in (0, 1]" in capsys.readouterr().err
    assert main(["export", "--union", "boxes", "primary", "--store", str(store)]) == 2
    assert "not a detector with alignment keypoints" in capsys.readouterr().err


def _manifest(model_dir: Path, extra: dict) -> None:
    path = model_dir / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **extra}))


def test_the_primary_square_is_compared_inside_the_image() -> None:
    """BlazePose's body regions are squares that may reach far past the image; a head box of
    the same person overlaps the square itself by IoU 0.26 but its part in the image by 0.89."""
    square = [-200.0, -100.0, 300.0, 400.0]
    tight = [10.0, 5.0, 290.0, 235.0]
    first = torch.tensor([primary_row(square, 0.9)])
    module = DetectorUnion(Primary(first), BoxHead(torch.tensor([[*tight, 0.8]])), 0.5, 0.2, 0.3,
                           160)  # fmt: skip
    assert float(pairwise_iou(torch.tensor([[tight]]), torch.tensor([[square]]))) < 0.3
    rows = module.detect(torch.zeros(1, 3, HEIGHT, WIDTH))
    assert rows[0, :, 4].tolist() == pytest.approx([0.9, 0.0])  # the duplicate is dropped
    assert rows[0, 0, :4].tolist() == pytest.approx(square)  # the row itself stays unclipped


CROP = 64  # the verification crops' side in these tests


class CropFinder(torch.nn.Module):
    """A BlazePose-detector stand-in for the crop check: nobody on the whole image; on a crop
    (CROP px) one person (score 0.9) whose hip centre is the centroid of the crop's bright
    pixels, if it has any. Has the internal `score_threshold` BlazePose's detector has."""

    def __init__(self) -> None:
        super().__init__()
        self.crop = CROP
        self.score_threshold = 0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.detect(x)[..., :5]

    @torch.jit.export
    def detect(self, x: torch.Tensor) -> torch.Tensor:
        rows = torch.zeros(x.shape[0], 1, 13, dtype=x.dtype)
        if x.shape[2] != self.crop:
            return rows
        bright = (x.mean(dim=1) > 128).to(x.dtype)  # (n, S, S)
        count = bright.sum(dim=(1, 2)).clamp(min=1)
        grid = torch.arange(x.shape[2], dtype=x.dtype)
        cx = (bright.sum(dim=1) * grid).sum(dim=1) / count
        cy = (bright.sum(dim=2) * grid).sum(dim=1) / count
        rows[:, 0, 4] = 0.9 * (bright.sum(dim=(1, 2)) > 0).to(x.dtype)
        rows[:, 0, 0:4] = torch.stack([cx - 5, cy - 5, cx + 5, cy + 5], dim=1)
        rows[:, 0, 5:9] = torch.stack([cx, cy, cx, cy - 5], dim=1)
        return rows


P = [20.0, 40.0, 80.0, 200.0]  # a person inside: bright patch at x 40-60, y 100-140
Q = [200.0, 40.0, 240.0, 120.0]  # nobody in its crop: dropped
R = [250.0, 150.0, 290.0, 230.0]  # someone in its crop, but outside the box: dropped


def bright_scene() -> torch.Tensor:
    image = torch.zeros(1, 3, HEIGHT, WIDTH)
    image[:, :, 100:140, 40:60] = 255.0  # P's person
    image[:, :, 150:170, 222:240] = 255.0  # R's neighbour, in R's crop but not in R's box
    return image


@pytest.mark.parametrize("scripted", [False, True])
def test_each_added_box_is_checked_on_a_crop(scripted: bool) -> None:
    second = torch.tensor([[*P, 0.6], [*Q, 0.5], [*R, 0.4]])

    def make(grow: float) -> torch.nn.Module:
        module = DetectorUnion(CropFinder(), BoxHead(second), 0.5, 0.2, 0.3, WIDTH, grow, 0.3,
                               CROP)  # fmt: skip
        return torch.jit.script(module) if scripted else module

    rows = make(1.3).detect(bright_scene())[0]
    kept = rows[rows[:, 4] > 0]
    assert kept[:, :5].tolist() == [pytest.approx([*P, 0.6], abs=1e-4)]
    unchecked = make(0.0).detect(bright_scene())[0]  # without the check all three stay
    assert unchecked[unchecked[:, 4] > 0, 4].tolist() == pytest.approx([0.6, 0.5, 0.4])


def test_the_check_sees_the_square_around_the_box() -> None:
    """The crop is `verify_grow` x the long side, centred on the box: P's crop at 1.3 is the
    208-px square around (50, 120), so the patch's centroid (49.5, 119.5) maps back there."""
    seen: list[torch.Tensor] = []
    finder = CropFinder()
    detect = finder.detect

    def spy(x: torch.Tensor) -> torch.Tensor:
        out = detect(x)
        seen.append(out)
        return out

    finder.detect = spy  # type: ignore[method-assign]
    module = DetectorUnion(finder, BoxHead(torch.tensor([[*P, 0.6]])), 0.5, 0.2, 0.3, WIDTH,
                           1.3, 0.3, CROP)  # fmt: skip
    module.detect(bright_scene())
    side = 160 * 1.3
    hip = seen[-1][0, 0, 5:7] * side / CROP + torch.tensor([50 - side / 2, 120 - side / 2])
    assert hip.tolist() == pytest.approx([49.5, 119.5], abs=side / CROP)


def test_export_lowers_the_detectors_own_cut_for_the_crops(tmp_path: Path) -> None:
    scene = make_scene()
    store = make_store(tmp_path, scene)
    write_model(store, "finder", CropFinder(), "detector")
    _manifest(store / "finder", {"recommended_score_threshold": 0.5,
                                 "output": {"K": 1, "keypoints": "..."}, "input": {}})
    write_model(store, "boxes", BoxHead(torch.tensor([[*P, 0.6]])), "pose")
    _manifest(store / "boxes", {"box_head": {"recommended_score_threshold": 0.2, "max_boxes": 1}})
    out = export_union(store, "checked", "finder", "boxes", verify_threshold=0.25)
    module = torch.jit.load(str(out / "model.pt"))
    assert module.primary.score_threshold == 0.25 and module.primary_threshold == 0.5
    union_manifest = json.loads((out / "manifest.json").read_text())["union"]
    assert (union_manifest["verify_grow"], union_manifest["verify_threshold"]) == (1.3, 0.25)
