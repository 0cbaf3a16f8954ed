"""A few training steps on a handful of generated images: loss falls, export, reload, predict."""

from itertools import islice
from pathlib import Path

import numpy as np
import pytest
import torch

from service.data.synth.writer import write_dataset
from service.network import build_network
from service.runtime.model_store import load_model
from service.skeleton import AIC14
from service.training.checkpoint import load_checkpoint
from service.training.config import TrainConfig
from service.training.loop import build_loader, train
from service.training.loss import total_loss


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    write_dataset(out, count=6, seed=3, width=96, height=80)
    return out


def batch_loss(net: torch.nn.Module, batches: list[dict[str, torch.Tensor]],
               cfg: TrainConfig) -> float:
    """Mean training loss (Eq. 6-8, the loop's weights) of `net` over fixed batches."""
    net.train()  # as the loop measures it (batch statistics)
    with torch.no_grad():
        return float(np.mean([
            float(total_loss(net(b["image"]), b["maps"], b["fields"], b["mask"],
                             cfg.background_weight, cfg.foreground_weight))
            for b in batches]))  # fmt: skip


def test_train_export_reload_predict(scenes, tmp_path):
    cfg = TrainConfig(
        train_annotations=scenes / "annotations.json", train_images=scenes / "images",
        val_annotations=scenes / "annotations.json", val_images=scenes / "images",
        extra_train=(scenes,), run_dir=tmp_path / "run", preset="tiny", batch_size=2,
        learning_rate=1e-2, warmup_steps=1, epochs=10, max_steps=5, crop_size=64, workers=0,
        val_limit=3, export_name="pose-test", model_store=tmp_path / "store",
    )  # fmt: skip
    progress = train(cfg)
    assert progress.step == 5
    # Loss falls: each step sees other crops (step losses range 2x), so both the weights the
    # run started from (the same seed) and its last weights are scored on the same batches.
    torch.manual_seed(cfg.seed)
    net = build_network(cfg.preset, AIC14)
    batches = list(islice(build_loader(cfg, AIC14, net.output_stride), 2))
    before = batch_loss(net, batches, cfg)
    load_checkpoint(tmp_path / "run" / "last.pt", net)
    after = batch_loss(net, batches, cfg)
    assert after < 0.9 * before, (before, after)  # 0.77 measured
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


def test_init_checkpoint_copies_weights_and_restarts_the_step(scenes, tmp_path):
    base = dict(
        train_annotations=scenes / "annotations.json", train_images=scenes / "images",
        val_annotations=scenes / "annotations.json", val_images=scenes / "images",
        preset="tiny", batch_size=2, learning_rate=1e-3, epochs=1, crop_size=64, workers=0,
        val_limit=2, export_name="pose-init", model_store=tmp_path / "store",
    )  # fmt: skip
    first = TrainConfig(**base, run_dir=tmp_path / "a", max_steps=3)
    train(first)
    source = torch.load(tmp_path / "a" / "last.pt", map_location="cpu", weights_only=False)

    # learning rate 0: the fine-tuned run's weights stay exactly the initial checkpoint's.
    tuned = TrainConfig(**{**base, "learning_rate": 0.0}, run_dir=tmp_path / "b", max_steps=1,
                        init_checkpoint=tmp_path / "a" / "last.pt")
    progress = train(tuned)
    assert progress.step == 1  # counted from 0, not from the source run's 3
    state = torch.load(tmp_path / "b" / "last.pt", map_location="cpu", weights_only=False)
    conv = [k for k, v in source["model"].items() if v.dtype.is_floating_point and v.dim() == 4]
    for key in conv:
        assert torch.equal(state["model"][key], source["model"][key]), key
    fresh = TrainConfig(**{**base, "learning_rate": 0.0}, run_dir=tmp_path / "c", max_steps=1)
    train(fresh)
    other = torch.load(tmp_path / "c" / "last.pt", map_location="cpu", weights_only=False)
    assert not all(torch.equal(other["model"][k], source["model"][k]) for k in conv)


def test_crop_options_reach_the_augmentation(scenes, tmp_path):
    from service.skeleton import AIC14
    from service.training.loop import build_loader

    cfg = TrainConfig(
        train_annotations=scenes / "annotations.json", train_images=scenes / "images",
        val_annotations=scenes / "annotations.json", val_images=scenes / "images",
        run_dir=tmp_path, crop_size=96, p_person=0.9, min_person=0.3, max_person=1.5, workers=0,
    )  # fmt: skip
    augment = build_loader(cfg, AIC14, 4).dataset.datasets[0].config.augment
    assert (augment.size, augment.p_person, augment.person_height) == (96, 0.9, (0.3, 1.5))


def test_openpose_style_preset_trains_exports_and_serves(scenes, tmp_path, monkeypatch):
    """The VGG 6-stage family (Table III's baseline) through the same loop and export: a
    narrow 2-stage stand-in of vgg-6stage, registered like it, so the test runs in seconds."""
    from service.network.net import build_network
    from service.network.openpose import OPENPOSE_PRESETS, OpenPoseConfig, OpenPoseNet
    from service.runtime.factory import load_pipeline
    from service.skeleton import AIC14

    narrow = OpenPoseConfig(name="vgg-narrow", vgg_blocks=((8, 8), (8, 8), (16, 16), (16, 16)),
                            cpm=(16, 8), stages=2, branch_width=8, stage1_hidden=16,
                            refine_hidden=8, outputs="skeleton")  # fmt: skip
    monkeypatch.setitem(OPENPOSE_PRESETS, narrow.name, narrow)
    assert isinstance(build_network("vgg-6stage", AIC14), OpenPoseNet)
    with pytest.raises(ValueError, match="coco18"):
        build_network("openpose-vgg19", AIC14)  # OpenPose's own channels are COCO-18's
    cfg = TrainConfig(
        train_annotations=scenes / "annotations.json", train_images=scenes / "images",
        val_annotations=scenes / "annotations.json", val_images=scenes / "images",
        run_dir=tmp_path / "run", preset=narrow.name, batch_size=2, learning_rate=1e-3,
        epochs=2, max_steps=3, crop_size=64, workers=0, val_limit=2, export_name="vgg-test",
        model_store=tmp_path / "store",
    )  # fmt: skip
    assert train(cfg).step == 3
    model = load_model("vgg-test", tmp_path / "store")
    assert model.manifest["output_stride"] == 8 and model.manifest["preset"] == "vgg-narrow"
    assert model.manifest["input"]["normalisation"]["formula"] == "x / 256 - 0.5"
    with torch.no_grad():
        maps, fields = model.module(torch.rand(1, 3, 80, 96) * 255)
    assert maps.shape == (1, 15, 10, 12) and fields.shape == (1, 26, 10, 12)
    pipeline = load_pipeline("vgg-test", None, store=tmp_path / "store")
    image = np.full((80, 96, 3), 128, np.uint8)
    from service.types import Box

    (pose,) = pipeline.predict(image, [Box(10, 5, 60, 75, 1.0, "client")]).poses
    assert pose.keypoints.shape == (14, 3)
