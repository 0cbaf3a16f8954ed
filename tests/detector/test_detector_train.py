"""A few training steps on a handful of generated scenes -> exported model -> reload -> predict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from service.data.synth.writer import write_dataset
from service.detector.data import BoxRecord, load_rgb, read_coco_boxes
from service.detector.evaluate import box_ap, evaluate_detector
from service.detector.train import DetectorTrainConfig, train_detector
from service.runtime.model_store import load_model


def people_moved(records: list[BoxRecord], shift: float) -> list[dict[str, object]]:
    """Each record's people as score-1 detections, moved right by `shift` x their width: IoU
    with their own box (1 - shift) / (1 + shift)."""
    return [{"image_id": i, "category_id": 1, "score": 1.0,
             "bbox": [float(b[0] + shift * (b[2] - b[0])), float(b[1]), float(b[2] - b[0]),
                      float(b[3] - b[1])]}
            for i, rec in enumerate(records, start=1) for b in rec.boxes]  # fmt: skip


def test_train_export_reload_predict(tmp_path: Path) -> None:
    data = tmp_path / "synth"
    write_dataset(data, 4, 7, 128, 96)
    cfg = DetectorTrainConfig(
        train_dir=data, val_dir=data, preset="tiny", runs_dir=tmp_path / "runs",
        store=tmp_path / "store", name="det-test", epochs=1, batch_size=2, max_steps=2,
        warmup_steps=1,
    )  # fmt: skip
    ap = train_detector(cfg, command="test")
    records = read_coco_boxes(data)
    assert ap.images == 4 and ap.people == sum(len(r.boxes) for r in records) > 0
    assert (tmp_path / "runs" / "last.pt").is_file()
    steps = (tmp_path / "runs" / "steps.csv").read_text().splitlines()
    assert steps[0] == "step,loss" and len(steps) == 3  # header + 2 steps
    assert (tmp_path / "runs" / "epochs.csv").is_file()
    assert (tmp_path / "runs" / "curves.png").is_file()
    model = load_model("det-test", tmp_path / "store")
    manifest = json.loads((tmp_path / "store" / "det-test" / "manifest.json").read_text())
    assert model.kind == "detector"
    assert manifest["training"]["steps"] == 2 and manifest["training"]["command"] == "test"
    assert manifest["trained_on"]["train"]["data_seed"] == 7
    assert manifest["validation"]["ap50"] == ap.ap50
    # The figure is the exported model's own box AP on the validation images ...
    again = evaluate_detector(model.module, records)
    assert (again.ap50, again.ap, again.detections) == pytest.approx((ap.ap50, ap.ap,
                                                                      ap.detections))
    # ... by an evaluator that scores the people themselves 1, and moved boxes by their IoU:
    # 0.2 of a width -> IoU 2/3 (a hit at 0.50..0.65: AP 0.4); 0.5 -> IoU 1/3 (none).
    assert box_ap(records, people_moved(records, 0.0)).ap50 == pytest.approx(1.0)
    moved = box_ap(records, people_moved(records, 0.2))
    assert (moved.ap50, moved.ap, moved.ap75) == pytest.approx((1.0, 0.4, 0.0))
    assert box_ap(records, people_moved(records, 0.5)).ap50 == pytest.approx(0.0)
    image = torch.from_numpy(load_rgb(next((data / "images").glob("*.jpg")))).permute(2, 0, 1)
    out = model.module(image[None].float())
    k = manifest["output"]["K"]
    assert out.shape == (1, k, 5)
    scores = out[0, :, 4].numpy()
    assert np.all(np.diff(scores) <= 0) and np.all(scores >= 0)


def test_resume_continues_from_the_last_checkpoint(tmp_path: Path) -> None:
    data = tmp_path / "synth"
    write_dataset(data, 4, 3, 96, 96)
    base = dict(train_dir=data, val_dir=data, preset="tiny", runs_dir=tmp_path / "runs",
                store=tmp_path / "store", name="d", epochs=2, batch_size=2, warmup_steps=1)
    train_detector(DetectorTrainConfig(**base, max_steps=2))  # type: ignore[arg-type]
    state = torch.load(tmp_path / "runs" / "last.pt", weights_only=False)
    assert state["progress"]["epoch"] == 1 and state["progress"]["step"] == 2
    train_detector(DetectorTrainConfig(**base), resume=True)  # type: ignore[arg-type]
    state = torch.load(tmp_path / "runs" / "last.pt", weights_only=False)
    assert state["progress"]["epoch"] == 2 and state["progress"]["step"] == 4
