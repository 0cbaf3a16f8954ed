"""Network outputs at several input scales (and of the mirrored image) -> one set of maps and
fields on a common grid."""

from __future__ import annotations

import cv2
import numpy as np

from service.skeleton import Skeleton

# The paper's test scales (Sec. IV-A).
PAPER_SCALES: tuple[float, ...] = (0.7, 1.0, 1.3)


def scaled_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """The input size (h, w) at which the image is run for `scale`."""
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_channels(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(K, h, w) -> (K, H, W), bilinear with pixel centres aligned (cv2's convention).

    Aligned centres match the project's grid convention: a cell at stride s/scale and a cell at
    stride s with the same image centre coincide up to the rounding of the scaled image size.
    """
    h, w = size
    if array.shape[1:] == (h, w):
        return np.asarray(array, dtype=np.float32)
    hwc = np.ascontiguousarray(np.asarray(array, dtype=np.float32).transpose(1, 2, 0))
    # cv2 handles at most 512 channels per call; chunk to stay well inside.
    out = [
        cv2.resize(hwc[:, :, k : k + 64], (w, h), interpolation=cv2.INTER_LINEAR).reshape(h, w, -1)
        for k in range(0, hwc.shape[2], 64)
    ]
    return np.concatenate(out, axis=2).transpose(2, 0, 1)  # (K, H, W)


def fuse_scales(
    outputs: list[tuple[np.ndarray, np.ndarray]], size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Each scale's (maps (J+1, h_s, w_s), fields (2C, h_s, w_s)) resized to `size` (h, w) and
    averaged (Sec. IV-A) -> (maps (J+1, h, w), fields (2C, h, w))."""
    if not outputs:
        raise ValueError("fuse_scales needs at least one scale's output")
    maps = np.mean([resize_channels(m, size) for m, _ in outputs], axis=0)
    fields = np.mean([resize_channels(f, size) for _, f in outputs], axis=0)
    return maps.astype(np.float32), fields.astype(np.float32)


def unflip_outputs(
    maps: np.ndarray, fields: np.ndarray, skeleton: Skeleton
) -> tuple[np.ndarray, np.ndarray]:
    """Outputs for the horizontally mirrored image -> outputs in the original image's frame.

    maps (..., J+1, h, w), fields (..., 2C, h, w) on a grid whose cells mirror onto cells (the
    input width a multiple of the stride). Columns are reversed; each joint takes its left/right
    twin's map; each limb takes its mirror limb's field with the x component negated.
    """
    joints = list(skeleton.flip_permutation) + [skeleton.num_joints]  # background stays
    limbs = np.asarray(skeleton.limb_flip_permutation)  # (C,)
    channels = np.stack([2 * limbs, 2 * limbs + 1], axis=1).reshape(-1)  # (2C,)
    maps = maps[..., joints, :, ::-1]
    fields = fields[..., channels, :, ::-1].copy()
    fields[..., 0::2, :, :] *= -1.0  # x components
    return np.ascontiguousarray(maps), np.ascontiguousarray(fields)
