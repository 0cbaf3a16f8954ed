"""Images of different sizes -> forward groups and padded (B, 3, H, W) batches, and back.

Images in one group are padded (bottom and right) to the group's largest height and width, so
one forward serves them all; the outputs are then cropped to each image's own grid. Padding does
not move any pixel, so no coordinate changes. Groups are formed so that padding wastes at most
`max_pad_ratio` of real pixels: frames of one camera always share a group.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from service.targets import map_size

# Pixel value of the padding (RGB, 0..255): ImageNet's mean, i.e. zero after normalisation.
PAD_VALUE = (124.0, 116.0, 104.0)


def group_by_size(sizes: list[tuple[int, int]], max_pad_ratio: float) -> list[list[int]]:
    """(H, W) per image -> groups of indices; padded area <= max_pad_ratio * real area."""
    order = sorted(range(len(sizes)), key=lambda i: (sizes[i][0] * sizes[i][1], sizes[i]))
    groups: list[list[int]] = []
    for i in order:
        if groups and _padded_ratio([sizes[k] for k in groups[-1] + [i]]) <= max_pad_ratio:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def _padded_ratio(sizes: list[tuple[int, int]]) -> float:
    height = max(h for h, _ in sizes)
    width = max(w for _, w in sizes)
    return len(sizes) * height * width / sum(h * w for h, w in sizes)


def scaled_size(height: int, width: int, scale: float) -> tuple[int, int]:
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize(image: np.ndarray, scale: float) -> np.ndarray:
    """(H, W, 3) -> (round(H*s), round(W*s), 3); identity at scale 1."""
    if scale == 1.0:
        return image
    h, w = scaled_size(image.shape[0], image.shape[1], scale)
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    return cv2.resize(image, (w, h), interpolation=interpolation)


def pad_batch(
    images: list[np.ndarray], device: torch.device, dtype: torch.dtype, multiple: int = 1
) -> torch.Tensor:
    """(H_i, W_i, 3) uint8 RGB images -> (B, 3, H, W) tensor in 0..255 on `device`; H, W the
    largest height and width rounded up to a multiple of `multiple`. Channels-last in memory
    (the images' own layout, so no copy): oneDNN's convolutions then skip a reorder per layer
    (pose-lite's forward 1.22x faster on CPU, BENCHMARKS.md "forward passes")."""
    height = -(-max(im.shape[0] for im in images) // multiple) * multiple
    width = -(-max(im.shape[1] for im in images) // multiple) * multiple
    batch = np.empty((len(images), height, width, 3), dtype=np.float32)  # (B, H, W, 3)
    batch[:] = np.asarray(PAD_VALUE, dtype=np.float32)
    for b, im in enumerate(images):
        batch[b, : im.shape[0], : im.shape[1]] = im
    tensor = torch.from_numpy(batch).permute(0, 3, 1, 2)  # (B, 3, H, W)
    tensor = tensor.to(device=device, dtype=dtype, non_blocking=True)
    return tensor.contiguous(memory_format=torch.channels_last)


def crop_outputs(
    output: torch.Tensor,  # (B, C, h, w) at `stride`
    sizes: list[tuple[int, int]],  # (H_i, W_i) input size of each image
    stride: int,
) -> list[np.ndarray]:
    """Padded network output -> per image (C, ceil(H_i/s), ceil(W_i/s)) float32 arrays."""
    host = output.float().cpu().numpy()
    crops = []
    for b, (height, width) in enumerate(sizes):
        h, w = map_size(height, width, stride)
        crops.append(np.ascontiguousarray(host[b, :, :h, :w]))
    return crops
