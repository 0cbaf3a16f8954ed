"""Very dark images brightened before the models see them (runtime/exposure.py): the level,
the gain, the images left alone, the order against the resize, and a real low-light photo."""

from __future__ import annotations

import numpy as np
import pytest

from service.runtime import exposure
from service.runtime.exposure import bright_level, brighten, exposure_gain
from service.runtime.working import fit, prepare


def gradient(height: int = 120, width: int = 160, top: int = 255) -> np.ndarray:
    """(H, W, 3) uint8, values spread evenly over 0..top."""
    ys, xs = np.mgrid[0:height, 0:width]
    values = (xs + ys * width) * (top + 1) // (height * width)
    return np.repeat(values[..., None], 3, axis=2).astype(np.uint8)


def test_the_level_is_the_value_the_brightest_half_percent_start_at() -> None:
    image = np.random.default_rng(0).integers(0, 200, (400, 400, 3), dtype=np.uint8)
    assert abs(bright_level(image) - np.quantile(image, 0.995)) <= 2  # 1/16 of pixels sampled
    assert bright_level(np.zeros((40, 40, 3), np.uint8)) == 0


def test_an_exposed_image_is_left_as_it_is() -> None:
    image = gradient()
    assert exposure_gain(image) == 1.0
    assert brighten(image) is image


def test_a_dark_image_is_scaled_to_the_target_level() -> None:
    image = gradient(top=5)  # a night scene: every value in 0..5
    level = bright_level(image)
    assert level == 5
    gain = exposure_gain(image)
    assert gain == pytest.approx(exposure.TARGET_LEVEL / level)
    out = brighten(image)
    assert np.array_equal(out, np.clip(np.floor(image * gain), 0, 255).astype(np.uint8))
    assert abs(bright_level(out) - exposure.TARGET_LEVEL) <= gain  # one grey level of the input
    assert image.max() == 5  # the input is not changed in place


def test_a_black_frame_and_the_gain_cap() -> None:
    black = np.zeros((60, 80, 3), np.uint8)
    black[::7, ::5] = 1  # a little sensor noise: level 0 or 1
    assert exposure_gain(black) == 1.0 and brighten(black) is black
    faint = gradient(top=2)  # level 2: 224 / 2 = 112, capped
    assert exposure_gain(faint) == exposure.MAX_GAIN


def test_prepare_brightens_before_the_resize() -> None:
    """Averaging a dark image's few grey levels down to the working size rounds them away:
    a 0/3 checkerboard shrinks to 1s and 2s, 64 or 128 once brightened; brightened first it
    keeps its mean level, 112."""
    dark = np.zeros((400, 400, 3), np.uint8)
    dark[::2, ::2] = dark[1::2, 1::2] = 3
    dark[:8] = 6  # a brighter strip sets the level: 6 -> gain 224 / 6
    work = prepare(dark, None, None, 100, brighten_dark=True)
    assert np.array_equal(work.image, fit(brighten(dark), work.frame))
    assert work.image[50:, :].mean() == pytest.approx(1.5 * 224 / 6, abs=1.0)
    assert np.array_equal(prepare(dark, None, None, 100).image, fit(dark, work.frame))


def test_a_low_light_photo_is_answered_once_brightened() -> None:
    """ExLPose's photo taken at 1250 exposure (dev split; its brightest channel values 18 of
    255): the default model answers its lit person, at OKS >= 0.5 against the truth, only when
    the photo is brightened."""
    from service.data.real_split import DEFAULT_DATA_ROOT, load_dataset
    from service.evaluation.real_eval import oks_matrix, predict_records
    from service.evaluation.real_metrics import SIGMAS
    from service.runtime.factory import load_pipeline
    from service.runtime.protocol import PipelineConfig

    if not (DEFAULT_DATA_ROOT / "mmpose-testdata" / "exlpose").is_dir():
        pytest.skip(f"needs the ExLPose test photos under {DEFAULT_DATA_ROOT}/mmpose-testdata")
    try:
        records = [r for r in load_dataset("mmpose:exlpose") if "exposure_1250" in r.path.name]
    except (OSError, ValueError) as exc:
        pytest.skip(f"the ExLPose photos cannot be read: {exc}")
    best = {}
    for brighten_dark in (True, False):
        pipeline = load_pipeline("movenet-fields", None, "cpu",
                                 config=PipelineConfig(brighten_dark=brighten_dark))  # fmt: skip
        (prediction,) = predict_records(pipeline, records, "served", SIGMAS["coco"])
        (record,) = records
        oks = oks_matrix(record.keypoints, record.areas, prediction.keypoints, SIGMAS["coco"])
        best[brighten_dark] = float(oks.max()) if oks.size else 0.0
    assert best[True] >= 0.5, best
    assert best[False] < 0.1, best
