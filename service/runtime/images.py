"""Request bytes -> RGB image (H, W, 3) uint8, EXIF orientation applied, at the working size.

The format is sniffed from the bytes (the declared content type is not trusted), and the pixel
count is checked from the header before the full decode, so a decompression bomb never allocates.
Given a working size (`working.py`), a JPEG is decoded at a reduced resolution (libjpeg's DCT
scaling by 1/2, 1/4 or 1/8: the largest reduction whose long side still reaches the working
size), so a 12-megapixel photo costs about what a working-size one does, then resized to the
working size; other formats are decoded whole, then resized.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from service.runtime.working import Frame, fit

# JPEG DCT scaling factors libjpeg offers (Image.draft), largest first.
JPEG_REDUCTIONS = (8, 4, 2)
# EXIF orientations that swap width and height (transposed, rotated 90 or 270 degrees).
SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})
EXIF_ORIENTATION = 0x0112

# Pillow format name per magic-byte test; the only formats the service decodes.
SUPPORTED: dict[str, str] = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "bmp": "BMP"}
MEDIA_TYPES: dict[str, str] = {
    "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/pjpeg": "jpeg", "image/png": "png",
    "image/webp": "webp", "image/bmp": "bmp", "image/x-bmp": "bmp", "image/x-ms-bmp": "bmp",
}  # fmt: skip


class ImageError(Exception):
    """An image the service refuses; `status` and `code` become the HTTP error."""

    status = 400
    code = "invalid_image"


class UndecodableImage(ImageError):
    pass


class UnsupportedImageType(ImageError):
    status = 415
    code = "unsupported_media_type"


class ImageTooLarge(ImageError):
    status = 413
    code = "image_too_large"


@dataclass(frozen=True)
class DecodedImage:
    """An upright image: `rgb` is the working image (the whole image when no working size is
    given or the image is no larger); `height` x `width` is the original's size."""

    rgb: np.ndarray  # (h, w, 3) uint8, EXIF orientation applied
    format: str  # one of SUPPORTED
    size: tuple[int, int] | None = None  # (H, W) of the original, upright; None = rgb's

    @property
    def height(self) -> int:
        return int(self.size[0] if self.size is not None else self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.size[1] if self.size is not None else self.rgb.shape[1])

    @property
    def frame(self) -> Frame:
        """Original <-> `rgb` coordinates."""
        return Frame(self.height, self.width, int(self.rgb.shape[0]), int(self.rgb.shape[1]))


def sniff(data: bytes) -> str | None:
    """The format named by the first bytes, or None for anything the service does not read."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:2] == b"BM" and len(data) >= 26:
        return "bmp"
    return None


def sniff_unsupported(data: bytes) -> str | None:
    """Image formats recognised but refused (415 rather than 400)."""
    head = data[:16]
    if head[:4] in (b"GIF8",):
        return "GIF"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head[4:8] == b"ftyp":
        return "HEIF/AVIF"
    if head[:4] == b"\x00\x00\x01\x00":
        return "ICO"
    if head[:4] == b"%PDF":
        return "PDF"
    return None


def is_supported_media_type(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() in MEDIA_TYPES


def decode_image(data: bytes, max_pixels: int, working_size: int = 0) -> DecodedImage:
    """Bytes -> DecodedImage at `working_size` (long side; 0 = whole image); raises ImageError
    (400, 413 or 415)."""
    if not data:
        raise UndecodableImage("the image is empty")
    kind = sniff(data)
    if kind is None:
        other = sniff_unsupported(data)
        if other is not None:
            raise UnsupportedImageType(
                f"{other} images are not supported: send JPEG, PNG, WebP or BMP"
            )
        raise UndecodableImage("the bytes are not a JPEG, PNG, WebP or BMP image")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            opened = Image.open(io.BytesIO(data), formats=[SUPPORTED[kind]])
            _check_pixels(opened.size, max_pixels)  # header only: nothing decoded yet
            size = _upright_size(opened)
            frame = Frame.of(*size, working_size)
            if kind == "jpeg":
                _reduce(opened, frame)
            upright = ImageOps.exif_transpose(opened)  # decodes; orientation from EXIF
            rgb = np.asarray(_to_rgb(upright), dtype=np.uint8)
        except ImageError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageTooLarge(str(exc)) from exc
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
            raise UndecodableImage(f"cannot decode the {kind.upper()} image: {exc}") from exc
    if rgb.ndim != 3 or rgb.shape[2] != 3 or min(rgb.shape[:2]) < 1:
        raise UndecodableImage(f"unexpected decoded shape {rgb.shape}")
    return DecodedImage(rgb=np.ascontiguousarray(fit(rgb, frame)), format=kind, size=size)


def _upright_size(image: Image.Image) -> tuple[int, int]:
    """(H, W) of the image once its EXIF orientation is applied, from the header."""
    width, height = image.size
    orientation = image.getexif().get(EXIF_ORIENTATION, 1)
    return (width, height) if orientation in SWAPPING_ORIENTATIONS else (height, width)


def jpeg_reduction(long_side: int, working_long_side: int) -> int:
    """The largest JPEG DCT reduction (8, 4, 2, else 1) that leaves the long side at least
    the working image's."""
    for factor in JPEG_REDUCTIONS:
        if -(-long_side // factor) >= working_long_side:
            return factor
    return 1


def _reduce(image: Image.Image, frame: Frame) -> None:
    """Ask libjpeg to decode at 1/k of the size (nothing is decoded yet)."""
    factor = jpeg_reduction(max(frame.height, frame.width),
                            max(frame.work_height, frame.work_width))  # fmt: skip
    if factor > 1:
        width, height = image.size  # stored orientation; the factor is the same either way
        image.draft("RGB", (max(1, width // factor), max(1, height // factor)))


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise UndecodableImage(f"image size {width}x{height}")
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"image is {width}x{height} = {width * height} pixels, limit {max_pixels}"
        )


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode.startswith("I;16") or image.mode == "I":
        arr = np.asarray(image, dtype=np.float64)
        top = max(float(arr.max()), 1.0)
        return Image.fromarray((arr * (255.0 / top)).astype(np.uint8)).convert("RGB")
    return image.convert("RGB")


def encode_png(rgb: np.ndarray) -> bytes:
    """(H, W, 3) uint8 RGB -> PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()
