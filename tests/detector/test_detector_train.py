"""A few training steps on a handful of generated scenes -> exported model -> reload -> predict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from service.data.synth.writer import write_dataset
from service.detector.data import load_rgb
from service.detector.train import DetectorTrainConfig, train_detector
from service.runtime.model_store import load_model


def test_train_export_reload_predict(tmp_path: Path) -> None:
    data = tmp_path / "synth"
    write_dataset(data, 4, 7, 128, 96)
    cfg = DetectorTrainConfig(
        train_dir=data, val_dir=data, preset="tiny", runs_dir=tmp_path / "runs",
        store=tmp_path / "store", name="det-test", epochs=1, batch_size=2, max_steps=2,
        warmup_steps=1,
    )  # fmt: skip
    ap = train_detector(cfg, command="test")
    assert 0.0 <= ap.ap50 <= 1.0 and ap.images == 4
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
