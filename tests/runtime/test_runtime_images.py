"""Image decoding contracts: formats sniffed from bytes, EXIF orientation, bomb guard, modes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from service.runtime.images import (
    ImageTooLarge,
    UndecodableImage,
    UnsupportedImageType,
    decode_image,
    encode_png,
    sniff,
)

RNG = np.random.default_rng(1)
IMAGE = RNG.integers(0, 255, (30, 40, 3), dtype=np.uint8)


def saved(image: Image.Image, fmt: str, **kw: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kw)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "WEBP", "JPEG"])
def test_supported_formats_decode_to_rgb(fmt: str) -> None:
    kw = {"lossless": True} if fmt == "WEBP" else {}
    decoded = decode_image(saved(Image.fromarray(IMAGE), fmt, **kw), 10_000)
    assert decoded.format == sniff(saved(Image.fromarray(IMAGE), fmt, **kw))
    assert decoded.rgb.shape == (30, 40, 3) and decoded.rgb.dtype == np.uint8
    if fmt != "JPEG":  # lossless formats give the pixels back exactly
        assert np.array_equal(decoded.rgb, IMAGE)


def test_exif_orientation_is_applied() -> None:
    ys, xs = np.mgrid[0:30, 0:40]
    smooth = np.dstack([xs * 6, ys * 8, np.full_like(xs, 90)]).astype(np.uint8)  # (30, 40, 3)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    data = saved(Image.fromarray(smooth), "JPEG", exif=exif.tobytes(), quality=95)
    decoded = decode_image(data, 10_000)
    assert (decoded.width, decoded.height) == (30, 40)
    error = np.abs(decoded.rgb.astype(int) - np.rot90(smooth, k=-1)).mean()
    assert error < 4  # JPEG noise only


def test_pixel_limit_checked_before_decoding() -> None:
    with pytest.raises(ImageTooLarge, match="40x30"):
        decode_image(saved(Image.fromarray(IMAGE), "PNG"), 1199)
    assert decode_image(saved(Image.fromarray(IMAGE), "PNG"), 1200).width == 40


def test_refusals() -> None:
    with pytest.raises(UnsupportedImageType):
        decode_image(saved(Image.fromarray(IMAGE), "GIF"), 10_000)
    with pytest.raises(UnsupportedImageType):
        decode_image(saved(Image.fromarray(IMAGE), "TIFF"), 10_000)
    with pytest.raises(UndecodableImage):
        decode_image(b"", 10_000)
    with pytest.raises(UndecodableImage):
        decode_image(b"hello world, not an image", 10_000)
    with pytest.raises(UndecodableImage):
        decode_image(saved(Image.fromarray(IMAGE), "PNG")[:60], 10_000)  # truncated


def test_alpha_grey_and_16_bit_become_rgb() -> None:
    rgba = np.dstack([IMAGE, np.zeros((30, 40), np.uint8)])  # fully transparent
    assert (decode_image(saved(Image.fromarray(rgba), "PNG"), 10_000).rgb == 255).all()
    grey = decode_image(saved(Image.fromarray(IMAGE[..., 0]), "PNG"), 10_000).rgb
    assert np.array_equal(grey[..., 1], IMAGE[..., 0])
    deep = Image.fromarray(IMAGE[..., 0].astype(np.uint16) * 256)
    assert decode_image(saved(deep, "PNG"), 10_000).rgb.shape == (30, 40, 3)


def test_png_round_trip() -> None:
    assert np.array_equal(decode_image(encode_png(IMAGE), 10_000).rgb, IMAGE)
