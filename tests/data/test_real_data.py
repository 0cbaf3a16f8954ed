"""The readers on the shared real data (skipped where ../shared/data is absent): the counts that
each folder's SOURCE_LICENSE.md states, the dev split and the training rows."""

from __future__ import annotations

import numpy as np
import pytest

from service.data.joint_maps import JOINT_MAPS
from service.data.lsp import lsp_to_aic14, read_joints_mat
from service.data.mmpose_sets import MMPOSE_SUBSETS, read_coco_layout, read_subset
from service.data.real_split import (
    DEFAULT_DATA_ROOT,
    DEV_SUBSETS,
    LSPET_DEV,
    load_dataset,
    lspet_training_rows,
)

pytestmark = pytest.mark.skipif(not DEFAULT_DATA_ROOT.is_dir(),
                                reason=f"shared data not found at {DEFAULT_DATA_ROOT}")

# SOURCE_LICENSE.md of mmpose-testdata: images, persons with keypoints
MMPOSE_COUNTS = {"coco": (4, 12), "aic": (3, 9), "crowdpose": (2, 4), "ochuman": (3, 5),
                 "exlpose": (2, 6), "posetrack18": (3, 14), "mpii": (5, 5), "mhp": (2, 4),
                 "jhmdb": (3, 3), "halpe": (4, 12), "humanart": (3, 4)}


def test_lspet_counts_and_flags() -> None:
    raw = read_joints_mat(DEFAULT_DATA_ROOT / "lspet" / "joints.mat")
    assert raw.shape == (10000, 14, 3)
    kp = lsp_to_aic14(raw)
    assert (kp[..., 2] == 2).sum() == 123213  # flag 1
    assert (kp[..., 2] == 2).mean() == pytest.approx(0.881, abs=0.001)  # "88.1%": 88.009%
    assert not (kp[..., 2] == 1).any()  # LSPet's flag-0 joints are all unplaced


def test_lspet_split_and_training_rows() -> None:
    rows = lspet_training_rows(DEFAULT_DATA_ROOT)
    assert len(rows) == 9000 and rows[-1].path.name == "im09000.jpg"
    assert all(r.path.is_file() for r in rows[::500])
    dev = load_dataset("lspet-dev", DEFAULT_DATA_ROOT, limit=5)
    assert [r.path.name for r in dev] == [f"im{i:05d}.jpg" for i in range(9001, 9006)]
    assert LSPET_DEV == (9001, 10000)


@pytest.mark.parametrize("name", sorted(MMPOSE_COUNTS))
def test_mmpose_subset_counts(name: str) -> None:
    records = read_subset(DEFAULT_DATA_ROOT / "mmpose-testdata", name)
    images, people = MMPOSE_COUNTS[name]
    assert len(records) == images and sum(r.num_people for r in records) == people
    assert all(r.path.is_file() for r in records)
    for r in records:
        xy = r.keypoints[r.keypoints[..., 2] > 0, :2]
        inside = (xy >= -1).all(1) & (xy[:, 0] <= r.width) & (xy[:, 1] <= r.height)
        assert inside.sum() >= len(xy) - (1 if name == "posetrack18" else 0)  # "1 out"


def test_dev_set_is_the_multi_person_subsets() -> None:
    assert set(DEV_SUBSETS) == {n for n, s in MMPOSE_SUBSETS.items() if s.multi_person}
    records = load_dataset("mmpose", DEFAULT_DATA_ROOT)
    assert len(records) == sum(MMPOSE_COUNTS[n][0] for n in DEV_SUBSETS) == 19
    assert sum(r.num_people for r in records) == 54


def test_coco_mini_counts() -> None:
    root = DEFAULT_DATA_ROOT / "coco-mini-train"
    records = read_coco_layout(root / "annotations" / "person_keypoints_train2017.json",
                               root / "train2017", JOINT_MAPS["coco17"])
    assert len(records) == 80  # "the json lists all 80 images"
    people = [r for r in records if r.num_people]
    # 86 people with keypoints over 28 images; 2 label only face joints (no AIC-14 joint)
    assert len(people) == 28 and sum(r.num_people for r in records) == 84
    assert all(not np.any(r.keypoints[:, 12:, 2]) for r in records)  # no neck, no head top
