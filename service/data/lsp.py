"""LSP / LSP-extended `joints.mat` -> AIC-14 keypoints, image records and training rows.

The file holds one person per image: LSPet's is (14, 3, N) = joint x (x, y, flag) x image, the
original LSP's (3, 14, N); both are read. Joints are in LSP order (`joint_maps.JOINT_MAPS
["lsp"]`), in MATLAB's 1-based pixels (converted here to the project's 0-based pixel centres).
Flag 1 is visible (v = 2). Flag 0 with a plausible position is a hidden joint (v = 1); flag 0 with
x <= 0 or y <= 0 (MATLAB has no pixel 0) is a joint the annotator did not place (v = 0): in
LSPet every one of its 16,787 flag-0 joints is of that kind (one coordinate is exactly 0, the
other often outside the image), so LSPet has no hidden-but-labelled joints at all.

Only the main person of each photo is annotated; the others cannot be located, so nothing masks
them: training crops are centred on the annotated person and evaluation uses its box only
(docs/data.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from service.data.joint_maps import JOINT_MAPS, to_aic14
from service.data.real import AREA_PER_BOX_AREA, ImageRecord, joints_box


@dataclass(frozen=True)
class LspRow:
    """One LSP(et) person without its pixels, for pre-decoding training crops."""

    index: int  # 1-based, as in the file name im00001.jpg
    path: Path
    keypoints: np.ndarray  # (14, 3) AIC-14 order, 0-based pixels
    box: np.ndarray  # (4,) x1, y1, x2, y2: the labelled joints' extent grown by BOX_MARGIN


def read_joints_mat(path: Path) -> np.ndarray:
    """joints.mat -> (N, 14, 3) LSP order: x, y (MATLAB 1-based pixels), raw flag."""
    import scipy.io

    joints = np.asarray(scipy.io.loadmat(str(path))["joints"], dtype=np.float64)
    if joints.shape[:2] == (14, 3):  # LSPet
        return joints.transpose(2, 0, 1)
    if joints.shape[:2] == (3, 14):  # LSP
        return joints.transpose(2, 1, 0)
    raise ValueError(f"{path}: 'joints' has shape {joints.shape}, not (14, 3, N) or (3, 14, N)")


def lsp_flags(raw: np.ndarray) -> np.ndarray:
    """(..., 14, 3) raw LSP rows -> project flags and 0-based pixels; unplaced joints zeroed."""
    out = np.array(raw, dtype=np.float64, copy=True)
    x, y, flag = out[..., 0], out[..., 1], out[..., 2]
    placed = (x > 0) & (y > 0)
    v = np.where(flag > 0, 2.0, np.where(placed, 1.0, 0.0))
    out[..., :2] -= 1.0  # MATLAB's first pixel is 1
    out[..., 2] = v
    out[v == 0] = 0.0
    return out


def lsp_to_aic14(raw: np.ndarray) -> np.ndarray:
    """(N, 14, 3) raw LSP rows -> (N, 14, 3) AIC-14 keypoints with project flags."""
    return to_aic14(lsp_flags(raw), JOINT_MAPS["lsp"])


def image_path(root: Path, index: int) -> Path:
    """1-based image number -> root/images/im00001.jpg (LSPet) or im0001.jpg (LSP)."""
    for digits in (5, 4):
        path = Path(root) / "images" / f"im{index:0{digits}d}.jpg"
        if path.exists():
            return path
    return Path(root) / "images" / f"im{index:05d}.jpg"


def lsp_rows(root: Path, first: int = 1, last: int | None = None) -> list[LspRow]:
    """People of images first..last (1-based, inclusive; default: all) of root/joints.mat,
    images not read."""
    keypoints = lsp_to_aic14(read_joints_mat(Path(root) / "joints.mat"))
    last = len(keypoints) if last is None else last
    if not 1 <= first <= last <= len(keypoints):
        raise ValueError(f"range {first}..{last} outside 1..{len(keypoints)}")
    return [LspRow(i, image_path(root, i), keypoints[i - 1], joints_box(keypoints[i - 1]))
            for i in range(first, last + 1)]  # fmt: skip


def lsp_records(root: Path, first: int = 1, last: int | None = None) -> list[ImageRecord]:
    """Images first..last as records (sizes read from the file headers, boxes clipped)."""
    from PIL import Image

    records = []
    for row in lsp_rows(root, first, last):
        with Image.open(row.path) as im:
            width, height = im.size
        box = joints_box(row.keypoints, size=(height, width))
        area = AREA_PER_BOX_AREA * (box[2] - box[0]) * (box[3] - box[1])
        records.append(ImageRecord(row.path, width, height, row.keypoints[None], box[None],
                                   np.array([area]), subset="lspet", extra={"index": row.index}))
    return records
