"""A few training steps on a handful of generated images: loss falls, export, reload, predict."""

from pathlib import Path

import numpy as np
import pytest
import torch

from service.data.synth.writer import write_dataset
from service.runtime.model_store import load_model
from service.training.config import TrainConfig
from service.training.loop import train


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    write_dataset(out, count=6, seed=3, width=96, height=80)
    return out


def test_train_export_reload_predict(scenes, tmp_path):
    cfg = TrainConfig(
        train_annotations=scenes / "annotations.json", train_images=scenes / "images",
        val_annotations=scenes / "annotations.json", val_images=scenes / "images",
        extra_train=(scenes,), run_dir=tmp_path / "run", preset="tiny", batch_size=2,
        learning_rate=1e-3, epochs=10, max_steps=5, crop_size=64, workers=0, val_limit=3,
        export_name="pose-test",
        model_store=tmp_path / "store",
    )  # fmt: skip
    progress = train(cfg)
    assert progress.step == 5
    losses = [float(line.split(",")[1])
              for line in (tmp_path / "run" / "steps.csv").read_text().splitlines()[1:]]
    assert (tmp_path / "run" / "epochs.csv").exists() and (tmp_path / "run" / "curves.png").exists()
    model = load_model("pose-test", tmp_path / "store")
    manifest = model.manifest
    assert manifest["training"]["steps"] >= 1 and "AP" in manifest["validation"]
    assert len(manifest["trained_on"]["sets"]) == 2
    with torch.no_grad():
        maps, fields = model.module(torch.rand(1, 3, 80, 96) * 255)
    assert maps.shape == (1, 15, 20, 24) and fields.shape == (1, 26, 20, 24)
    assert np.isfinite(maps.numpy()).all()
    assert len(losses) == 5 and np.isfinite(losses).all()

    # Resume continues from the checkpoint instead of starting over.
    resumed = train(TrainConfig(**{**cfg.__dict__, "max_steps": 7, "epochs": 10, "resume": True}))
    assert resumed.step == 7
