"""People with unlabelled joints -> per-channel loss masks: a joint the source does not label
(COCO has no neck or head top) is neither positive nor negative.

Where such a joint would be is unknown, so its channel is masked over the person's box (grown by
`grow`), as are the field channels of every limb it ends, and the background channel (whose
target, 1 - max of the joint maps, would be wrong there).
"""

from __future__ import annotations

import numpy as np

from service.skeleton import Skeleton
from service.targets.encode import image_to_grid, map_size


def channel_masks(
    keypoints: np.ndarray, boxes: np.ndarray, base: np.ndarray, skeleton: Skeleton,
    height: int, width: int, stride: int, grow: float = 0.2,
) -> tuple[np.ndarray, np.ndarray]:
    """(N, J, 3) keypoints, (N, 4) boxes, base W(p) (h, w) -> map mask (J+1, h, w) and field
    mask (2C, h, w), float32."""
    h, w = map_size(height, width, stride)
    maps = np.repeat(base[None], skeleton.num_maps, 0).astype(np.float32)
    fields = np.repeat(base[None], skeleton.num_field_channels, 0).astype(np.float32)
    limbs = np.asarray(skeleton.limbs, int).reshape(-1, 2)
    for person in range(len(keypoints)):
        missing = keypoints[person, :, 2] <= 0  # (J,)
        if not missing.any():
            continue
        x1, y1, x2, y2 = boxes[person]
        gx, gy = (x2 - x1) * grow / 2, (y2 - y1) * grow / 2
        lo = np.floor(image_to_grid(np.array([x1 - gx, y1 - gy]), stride)).astype(int)
        hi = np.ceil(image_to_grid(np.array([x2 + gx, y2 + gy]), stride)).astype(int) + 1
        c0, r0 = np.clip(lo, 0, [w, h])
        c1, r1 = np.clip(hi, 0, [w, h])
        if c1 <= c0 or r1 <= r0:
            continue
        joints = np.flatnonzero(missing)
        maps[joints, r0:r1, c0:c1] = 0.0
        maps[-1, r0:r1, c0:c1] = 0.0
        cut = np.flatnonzero(missing[limbs[:, 0]] | missing[limbs[:, 1]])
        channels = np.concatenate([2 * cut, 2 * cut + 1])
        fields[channels, r0:r1, c0:c1] = 0.0
    return maps, fields
