"""Working resolution contracts: sizes, the coordinate mapping (against OpenCV's resize),
reduced JPEG decoding (EXIF orientation and the pixel limit kept)."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from service.runtime.images import ImageTooLarge, decode_image, jpeg_reduction
from service.runtime.working import Frame, fit, prepare, working_shape
from service.types import Box, Pose


def jpeg(image: np.ndarray, **kw: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=92, **kw)
    return buffer.getvalue()


def smooth(height: int, width: int) -> np.ndarray:
    """(H, W, 3) uint8 gradients: survive JPEG and resizing with small errors."""
    ys, xs = np.mgrid[0:height, 0:width]
    return np.dstack([xs * 255 // width, ys * 255 // height, (xs + ys) * 127 // (height + width)]
                     ).astype(np.uint8)  # fmt: skip


def test_working_shape_shrinks_the_long_side_and_never_enlarges() -> None:
    assert working_shape(3036, 4084, 848) == (630, 848)
    assert working_shape(4084, 3036, 848) == (848, 630)  # portrait
    assert working_shape(480, 640, 848) == (480, 640)  # smaller: not upscaled
    assert working_shape(3036, 4084, 0) == (3036, 4084)  # 0: the whole image


def test_points_map_as_opencv_resizes() -> None:
    frame = Frame.of(600, 900, 300)  # a third: (200, 300)
    assert (frame.work_height, frame.work_width) == (200, 300)
    image = np.zeros((600, 900, 3), np.uint8)
    truth = np.array([[451.0, 120.0], [31.0, 580.0]])  # original pixel centres (x, y)
    for x, y in truth.astype(int):
        image[y - 1 : y + 2, x - 1 : x + 2] = 255  # a 3x3 dot centred on (x, y)
    small = fit(image, frame)[..., 0].astype(float)  # (200, 300)
    expected = frame.points_in(truth)
    np.testing.assert_allclose(expected, truth / 3.0, atol=0.5)
    for ex, ey in expected:  # the dot's centroid in the working image is where points_in says
        ys, xs = np.mgrid[0:200, 0:300]
        near = (np.abs(xs - ex) < 4) & (np.abs(ys - ey) < 4)
        weights = small * near
        centroid = [(xs * weights).sum() / weights.sum(), (ys * weights).sum() / weights.sum()]
        np.testing.assert_allclose(centroid, [ex, ey], atol=0.05)
    np.testing.assert_allclose(frame.points_out(expected), truth, atol=1e-9)


def test_boxes_and_poses_round_trip() -> None:
    frame = Frame.of(3036, 4084, 848)
    sx, sy = frame.scale
    box = Box(400.0, 300.0, 1600.0, 2900.0, 1.0, "client")
    inside = frame.box_in(box)
    assert inside is not box and inside.source == "client"
    assert inside.as_list() == pytest.approx([400 * sx, 300 * sy, 1600 * sx, 2900 * sy])
    assert frame.box_out(inside).as_list() == pytest.approx(box.as_list())
    keypoints = np.array([[100.0, 50.0, 0.9], [0.0, 0.0, 0.0]])  # the second joint not found
    pose = frame.pose_out(Pose(keypoints, 0.7, inside), box)
    assert pose.box is box and pose.score == 0.7
    assert pose.keypoints[0, :2] == pytest.approx([100.5 / sx - 0.5, 50.5 / sy - 0.5])
    assert pose.keypoints[1].tolist() == [0.0, 0.0, 0.0]
    assert frame.pose_in(pose).keypoints[0, :2] == pytest.approx([100.0, 50.0])


def test_prepare_maps_client_boxes_into_a_given_rendition() -> None:
    original = smooth(300, 400)
    half = cv2.resize(original, (200, 150), interpolation=cv2.INTER_AREA)
    work = prepare(half, (300, 400), [Box(40, 60, 200, 260)], working_size=100)
    assert work.image.shape == (75, 100, 3)
    assert work.frame == Frame(300, 400, 75, 100)
    assert work.boxes is not None and work.boxes[0].as_list() == pytest.approx([10, 15, 50, 65])


@pytest.mark.parametrize(
    ("long_side", "working", "factor"),
    [(4084, 848, 4), (8000, 848, 8), (1695, 848, 2), (1694, 848, 1), (848, 848, 1), (4084, 0, 1)],
)
def test_jpeg_reduction_is_the_largest_that_keeps_the_working_size(
    long_side: int, working: int, factor: int
) -> None:
    work_long = max(working_shape(long_side, long_side, working))
    assert jpeg_reduction(long_side, work_long) == factor


def test_large_jpeg_is_decoded_reduced_then_resized(monkeypatch: pytest.MonkeyPatch) -> None:
    original = smooth(1200, 1800)
    requested: list[tuple[int, int]] = []
    real_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self: JpegImagePlugin.JpegImageFile, mode: str | None, size: tuple[int, int] | None
            ) -> object:  # fmt: skip
        requested.append(self.size)
        result = real_draft(self, mode, size)
        requested.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    decoded = decode_image(jpeg(original), 10_000_000, working_size=400)
    assert requested == [(1800, 1200), (450, 300)]  # libjpeg decoded a quarter of each side
    assert (decoded.width, decoded.height) == (1800, 1200)  # the original's size
    assert decoded.rgb.shape == (267, 400, 3)
    expected = cv2.resize(original, (400, 267), interpolation=cv2.INTER_AREA).astype(int)
    assert np.abs(decoded.rgb.astype(int) - expected).mean() < 3


def test_reduced_decoding_applies_exif_orientation() -> None:
    upright = smooth(1600, 800)  # portrait
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: "rotate 90 degrees clockwise to display"
    stored = np.ascontiguousarray(np.rot90(upright, k=1))  # (800, 1600)
    decoded = decode_image(jpeg(stored, exif=exif.tobytes()), 10_000_000, working_size=200)
    assert (decoded.width, decoded.height) == (800, 1600)
    assert decoded.rgb.shape == (200, 100, 3)
    expected = cv2.resize(upright, (100, 200), interpolation=cv2.INTER_AREA).astype(int)
    assert np.abs(decoded.rgb.astype(int) - expected).mean() < 4


def test_pixel_limit_counts_the_full_image_not_the_reduced_one() -> None:
    data = jpeg(smooth(1000, 1600))
    with pytest.raises(ImageTooLarge, match="1600x1000"):
        decode_image(data, 1_599_999, working_size=200)
    assert decode_image(data, 1_600_000, working_size=200).rgb.shape == (125, 200, 3)


def test_small_images_and_no_working_size_decode_whole() -> None:
    data = jpeg(smooth(300, 400))
    assert decode_image(data, 10**6, working_size=848).rgb.shape == (300, 400, 3)
    whole = decode_image(jpeg(smooth(1200, 1800)), 10**7)
    assert whole.rgb.shape == (1200, 1800, 3) and whole.frame.identity
