"""Augmentation keeps keypoints, boxes and the ignore mask on the pixels they label, and a flip
swaps left and right."""

from __future__ import annotations

import numpy as np
import pytest

from service.data.augment import (
    AugmentConfig,
    Warp,
    affine,
    apply_warp,
    augment,
    colour_jitter,
    flip_matrix,
    random_warp,
)
from service.data.sample import Sample, boxes_mask
from service.skeleton import AIC14

H, W = 120, 160
CFG = AugmentConfig(size=128)


def _dots_sample(rng: np.random.Generator) -> Sample:
    """A black image with a Gaussian blob centred (sub-pixel) on each labelled keypoint."""
    kp = np.zeros((1, 14, 3))
    kp[0, :, 0] = rng.uniform(30, W - 30, 14)
    kp[0, :, 1] = rng.uniform(30, H - 30, 14)
    kp[0, :, 2] = 2
    kp[0, 5:, 2] = 0  # only a few, far apart enough to tell apart below
    kp[0, 5:, :2] = 0
    kp[0, :5, 0] = [25, 60, 95, 130, 60]
    kp[0, :5, 1] = [30.3, 90.7, 40.2, 85.5, 30.9]
    ys, xs = np.mgrid[0:H, 0:W]
    img = np.zeros((H, W), np.float64)
    for x, y, _ in kp[0, :5]:
        img += 250 * np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * 1.5**2))
    image = np.repeat(np.clip(img, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    return Sample(image, kp, np.array([[20.0, 25.0, 135.0, 95.0]]), None)


def _centroid(img: np.ndarray, x: float, y: float, r: int = 6) -> np.ndarray:
    x0, y0 = int(round(x)) - r, int(round(y)) - r
    patch = img[y0 : y0 + 2 * r + 1, x0 : x0 + 2 * r + 1, 0].astype(np.float64)
    ys, xs = np.mgrid[0 : patch.shape[0], 0 : patch.shape[1]]
    return np.array([(xs * patch).sum(), (ys * patch).sum()]) / patch.sum() + (x0, y0)


@pytest.mark.parametrize("seed", range(6))
def test_dots_land_on_their_transformed_keypoints(seed: int) -> None:
    rng = np.random.default_rng(seed)
    sample = _dots_sample(rng)
    m = affine(np.array([80.0, 60.0]), rng.uniform(0.9, 1.3), rng.uniform(-30, 30), CFG.size)
    flipped = seed % 2 == 1
    if flipped:
        m = m @ flip_matrix(W)
    out = apply_warp(sample, Warp(m[:2], flipped), AIC14, CFG)
    kp = out.keypoints[0]
    for j in np.flatnonzero(kp[:, 2] > 0):
        x, y = kp[j, :2]
        if 8 <= x <= CFG.size - 9 and 8 <= y <= CFG.size - 9:
            np.testing.assert_allclose(_centroid(out.image, x, y), (x, y), atol=0.15)


def test_flip_swaps_left_and_right() -> None:
    sample = _dots_sample(np.random.default_rng(0))
    m = affine(np.array([(W - 1) / 2, (H - 1) / 2]), 1.0, 0.0, CFG.size) @ flip_matrix(W)
    out = apply_warp(sample, Warp(m[:2], True), AIC14, CFG)
    src, dst = sample.keypoints[0], out.keypoints[0]
    shift = (CFG.size - 1) / 2 - (W - 1) / 2, (CFG.size - 1) / 2 - (H - 1) / 2
    # The right shoulder (0) of the flipped person is the mirrored left shoulder (3), and so on.
    for a, b in AIC14.flip_pairs:
        for j, twin in ((a, b), (b, a)):
            if src[twin, 2] > 0:
                np.testing.assert_allclose(dst[j, :2], (W - 1 - src[twin, 0] + shift[0],
                                                        src[twin, 1] + shift[1]))
            assert dst[j, 2] == src[twin, 2]


def test_ignore_mask_and_boxes_follow_the_warp() -> None:
    rng = np.random.default_rng(3)
    sample = _dots_sample(rng)
    sample.ignore = boxes_mask(np.array([[100.0, 10.0, 140.0, 40.0]]), H, W)
    for _ in range(5):
        warp = random_warp(rng, sample, CFG)
        out = apply_warp(sample, warp, AIC14, CFG)
        assert out.ignore is not None and out.ignore.shape == (CFG.size, CFG.size)
        centre = warp.matrix[:, :2] @ np.array([119.5, 24.5]) + warp.matrix[:, 2]
        cx, cy = np.round(centre).astype(int)
        if 0 <= cx < CFG.size and 0 <= cy < CFG.size:
            assert out.ignore[cy, cx]
        for kp, box in zip(out.keypoints, out.boxes, strict=True):
            seen = kp[kp[:, 2] > 0, :2]
            assert np.all((seen >= box[:2] - 1e-6) | (seen < 0) | (seen > CFG.size))


def test_augment_output_size_and_rotation_range() -> None:
    rng = np.random.default_rng(1)
    sample = _dots_sample(rng)
    for _ in range(20):
        warp = random_warp(rng, sample, CFG)
        linear = warp.matrix[:, :2] @ np.diag([-1.0 if warp.flipped else 1.0, 1.0])
        angle = np.degrees(np.arctan2(linear[1, 0], linear[0, 0]))
        assert -30.0 - 1e-6 <= angle <= 30.0 + 1e-6
    out = augment(sample, AIC14, rng, CFG)
    assert out.image.shape == (CFG.size, CFG.size, 3) and out.image.dtype == np.uint8


def test_colour_jitter_keeps_shape_and_changes_colours() -> None:
    img = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    out = colour_jitter(img, np.random.default_rng(1), CFG)
    assert out.shape == img.shape and out.dtype == np.uint8 and not np.array_equal(out, img)
