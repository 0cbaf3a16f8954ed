"""The fixed real-photo split (docs/real-photos.md) and data-set names -> image records.

Development (never trained on): LSPet images 9001..10000 (the last 1,000) and every image of
the mmpose test subsets whose photos have all their people annotated (`DEV_SUBSETS`).
Training may use LSPet 1..9000 and coco-mini-train. Paths are relative to the shared data
folder (`../shared/data` from the repository root by default).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from service.data.joint_maps import JOINT_MAPS
from service.data.lsp import LspRow, lsp_records, lsp_rows
from service.data.mmpose_sets import (
    DEFAULT_OPTIONS,
    MMPOSE_SUBSETS,
    ReadOptions,
    read_coco_layout,
    read_subset,
)
from service.data.real import ImageRecord

DEFAULT_DATA_ROOT = Path(__file__).resolve().parents[2].parent / "shared" / "data"
LSPET_TRAIN = (1, 9000)  # 1-based image numbers, inclusive: im00001 .. im09000
LSPET_DEV = (9001, 10000)  # im09001 .. im10000, held out from all training
DEV_SUBSETS = tuple(name for name, spec in MMPOSE_SUBSETS.items() if spec.multi_person)
LSPET_DIR, MMPOSE_DIR, COCO_MINI_DIR = "lspet", "mmpose-testdata", "coco-mini-train"


def lspet_training_rows(data_root: Path = DEFAULT_DATA_ROOT, first: int = LSPET_TRAIN[0],
                        last: int = LSPET_TRAIN[1]) -> list[LspRow]:
    """(path, AIC-14 keypoints, box) of LSPet training images, without decoding them; refuses
    any index of the held-out range."""
    if last >= LSPET_DEV[0]:
        raise ValueError(f"LSPet {LSPET_DEV[0]}..{LSPET_DEV[1]} is the held-out dev split")
    return lsp_rows(Path(data_root) / LSPET_DIR, first, last)


def lspet_dev(data_root: Path, options: ReadOptions, limit: int | None = None
              ) -> list[ImageRecord]:
    last = LSPET_DEV[1] if limit is None else min(LSPET_DEV[0] + limit - 1, LSPET_DEV[1])
    return lsp_records(Path(data_root) / LSPET_DIR, LSPET_DEV[0], last)


def mmpose_dev(data_root: Path, options: ReadOptions, limit: int | None = None
               ) -> list[ImageRecord]:
    records = [r for name in DEV_SUBSETS
               for r in read_subset(Path(data_root) / MMPOSE_DIR, name, options)]
    return records[:limit]


def coco_mini(data_root: Path, options: ReadOptions, limit: int | None = None
              ) -> list[ImageRecord]:
    """coco-mini-train (training data: a check of the readers, not a score to report)."""
    root = Path(data_root) / COCO_MINI_DIR
    records = read_coco_layout(root / "annotations" / "person_keypoints_train2017.json",
                               root / "train2017", JOINT_MAPS["coco17"], options,
                               subset="coco-mini")
    return [r for r in records if r.num_people or r.ignore][:limit]


Loader = Callable[[Path, ReadOptions, "int | None"], list[ImageRecord]]

DATASETS: dict[str, Loader] = {
    "lspet-dev": lspet_dev,
    "mmpose": mmpose_dev,
    "coco-mini": coco_mini,
}


def load_dataset(name: str, data_root: Path = DEFAULT_DATA_ROOT,
                 options: ReadOptions = DEFAULT_OPTIONS, limit: int | None = None
                 ) -> list[ImageRecord]:
    """'lspet-dev' | 'mmpose' | 'coco-mini' | 'mmpose:<subset>' -> records."""
    if name.startswith("mmpose:"):
        subset = name.split(":", 1)[1]
        if subset not in MMPOSE_SUBSETS:
            raise ValueError(f"unknown mmpose subset {subset!r}: {sorted(MMPOSE_SUBSETS)}")
        return read_subset(Path(data_root) / MMPOSE_DIR, subset, options)[:limit]
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}: {dataset_names()}")
    return DATASETS[name](Path(data_root), options, limit)


def dataset_names() -> list[str]:
    return sorted(DATASETS) + [f"mmpose:{s}" for s in MMPOSE_SUBSETS]
