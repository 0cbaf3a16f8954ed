"""Scene image -> the same image under random lighting, colour cast, blur, noise and JPEG."""

from __future__ import annotations

import cv2
import numpy as np

from service.data.synth.textures import smooth_noise


def lighting(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(H, W, 3) float32 -> lit uint8: smooth brightness field, colour cast, contrast, gamma."""
    h, w = img.shape[:2]
    field = 1.0 + rng.uniform(0.05, 0.35) * smooth_noise(rng, (h, w), 2)  # (H, W)
    gain = rng.uniform(0.85, 1.15, 3).astype(np.float32) * np.float32(rng.uniform(0.7, 1.3))
    mean = float(img.mean())
    offset = mean * (rng.uniform(0.75, 1.25) - rng.uniform(0.7, 1.3))
    lit = cv2.multiply(img, field[..., None] * gain) + np.float32(offset)
    out = np.clip(lit, 0, 255).astype(np.uint8)
    gamma = rng.uniform(0.7, 1.4)
    lut = (255.0 * (np.arange(256) / 255.0) ** gamma).astype(np.uint8)
    return cv2.LUT(out, lut)


def degrade(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(H, W, 3) uint8 -> uint8 after blur, sensor noise and JPEG artefacts."""
    img = img.astype(np.float32)
    if rng.random() < 0.35:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.6))
    elif rng.random() < 0.12:
        k = int(rng.integers(3, 10))
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2] = 1.0 / k
        rot = cv2.getRotationMatrix2D(((k - 1) / 2, (k - 1) / 2), rng.uniform(0, 180), 1.0)
        kernel = np.asarray(cv2.warpAffine(kernel, rot, (k, k)), np.float32)
        img = np.asarray(cv2.filter2D(img, -1, kernel / max(kernel.sum(), 1e-6)), np.float32)
    if rng.random() < 0.5:
        img = img + rng.normal(0, rng.uniform(1, 9), img.shape).astype(np.float32)
    out = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < 0.7:
        quality = int(rng.integers(25, 96))
        ok, buf = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
        if decoded is not None:
            out = decoded[..., ::-1]
    return np.ascontiguousarray(out)
