"""PoseDataset contract: fixed-shape tensors from any Source, targets encoded per item."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from service.data.augment import AugmentConfig
from service.data.coco import CocoKeypoints
from service.data.dataset import DatasetConfig, PoseDataset, SynthSource
from service.data.sample import Sample
from service.data.synth import SynthConfig
from service.data.synth.writer import write_dataset
from service.skeleton import AIC14
from service.targets import TargetConfig

CFG = DatasetConfig(augment=AugmentConfig(size=96), targets=TargetConfig(stride=4), max_people=8)


def test_items_have_fixed_shapes_and_batch() -> None:
    ds = PoseDataset(SynthSource(4, seed=2, width=128, height=112,
                                 config=SynthConfig(min_people=2, max_people=6)), CFG)
    item = ds[0]
    assert item["image"].shape == (3, 96, 96) and item["image"].dtype == torch.float32
    assert float(item["image"].max()) > 1.0  # RGB 0..255, not normalised
    assert item["maps"].shape == (AIC14.num_maps, 24, 24)
    assert item["fields"].shape == (AIC14.num_field_channels, 24, 24)
    assert item["mask"].shape == (24, 24)
    assert item["boxes"].shape == (8, 4) and item["keypoints"].shape == (8, 14, 3)
    n = int(item["num_boxes"])
    assert torch.all(item["boxes"][n:] == 0)
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=2)))
    assert batch["maps"].shape == (2, AIC14.num_maps, 24, 24)


def test_evaluation_mode_fits_the_whole_image(tmp_path: Path) -> None:
    write_dataset(tmp_path, count=2, seed=9, width=192, height=144)
    src = CocoKeypoints(tmp_path / "annotations.json", tmp_path / "images")
    ds = PoseDataset(src, DatasetConfig(augment=AugmentConfig(size=96), train=False))
    raw = src.load(1)
    out = ds.sample(1)
    scale = 96 / 192
    labelled = raw.keypoints[..., 2] > 0
    expect = (raw.keypoints[..., :2] + 0.5) * scale - 0.5 + np.array([0.0, (96 - 144 * scale) / 2])
    np.testing.assert_allclose(out.keypoints[..., :2][labelled], expect[labelled], atol=1e-6)


def test_targets_peak_at_the_keypoints() -> None:
    ds = PoseDataset(SynthSource(3, seed=4, config=SynthConfig(min_people=1, max_people=1)),
                     DatasetConfig(augment=AugmentConfig(size=128), train=False))
    item = ds[0]
    kp = item["keypoints"][0]
    j = int(torch.argmax(kp[:, 2]))
    x, y = (float(v) for v in kp[j, :2])
    if kp[j, 2] > 0:
        cell = int(round((y + 0.5) / 4 - 0.5)), int(round((x + 0.5) / 4 - 0.5))
        assert float(item["maps"][j][cell]) > 0.8


def test_ignore_regions_zero_the_loss_mask() -> None:
    class OneIgnored:
        skeleton = AIC14

        def __len__(self) -> int:
            return 1

        def load(self, index: int) -> Sample:
            ignore = np.zeros((96, 96), bool)
            ignore[:48, :48] = True
            return Sample(np.zeros((96, 96, 3), np.uint8), np.zeros((0, 14, 3)),
                          np.zeros((0, 4)), ignore)

    item = PoseDataset(OneIgnored(), DatasetConfig(augment=AugmentConfig(size=96),
                                                   train=False))[0]
    assert float(item["mask"][:12, :12].max()) == 0.0 and float(item["mask"][12:, 12:].min()) == 1
    assert int(item["num_boxes"]) == 0


def test_synth_command_writes_images_and_annotations(tmp_path: Path) -> None:
    from service.cli import main

    code = main(["synth", "--out", str(tmp_path), "--count", "2", "--seed", "1", "--width", "64",
                 "--height", "48", "--max-people", "3"])
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == ["0000000.jpg", "0000001.jpg"]
    assert CocoKeypoints(tmp_path / "annotations.json", tmp_path / "images").load(1).image.shape \
        == (48, 64, 3)
