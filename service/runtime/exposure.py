"""Very dark images -> brightened working images: the models were trained on exposed photos.

A photo taken in the dark (a night scene, a webcam in an unlit room, a low-light data set such as
ExLPose) holds its people in the bottom few grey levels: every model here sees black. Where the
brightest `BRIGHT_SHARE` of the image's channel values stays under `DARK_LEVEL` (no exposed photo
comes near: on the 655 dev, coco-mini-train and LSPet photos looked at, the level was 143 or more
everywhere but the two ExLPose photos, at 4 and 6), the working image is scaled so that this level
becomes `TARGET_LEVEL` (at most `MAX_GAIN` times; under `MIN_LEVEL`, a black frame, nothing is
done). It only changes what the models see:
coordinates are unaffected, and any other image passes unchanged.
"""

from __future__ import annotations

import cv2
import numpy as np

BRIGHT_SHARE = 0.995  # the level: the channel value 99.5% of them lie at or under
DARK_LEVEL = 64  # levels under this are "very dark"
TARGET_LEVEL = 224  # where a dark image's level is brought
MAX_GAIN = 64.0  # no brighter than this many times
MIN_LEVEL = 2  # under this there is nothing to bring out: a black frame stays as it is
_SAMPLE_STEP = 4  # every 4th row and column measures the level (1/16 of the pixels)


def bright_level(image: np.ndarray) -> int:
    """(H, W, 3) uint8 -> the channel value `BRIGHT_SHARE` of its (sampled) values lie at or
    under."""
    sample = image[::_SAMPLE_STEP, ::_SAMPLE_STEP]
    counts = np.bincount(sample.ravel(), minlength=256)
    return int(np.searchsorted(np.cumsum(counts), BRIGHT_SHARE * sample.size))


def exposure_gain(image: np.ndarray) -> float:
    """The factor `brighten` scales the image by: 1 unless it is very dark."""
    level = bright_level(image)
    if level >= DARK_LEVEL or level < MIN_LEVEL:
        return 1.0
    return min(TARGET_LEVEL / level, MAX_GAIN)


def brighten(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> the image itself, or, very dark, a brightened copy (values scaled by
    `exposure_gain` and clipped at 255, through a lookup table)."""
    gain = exposure_gain(image)
    if gain == 1.0:
        return image
    table = np.clip(np.arange(256) * gain, 0, 255).astype(np.uint8)
    return cv2.LUT(np.ascontiguousarray(image), table)
