"""Tiles and mosaics carry keypoints with the pixels: a marked pixel at a joint is found where
the warped keypoint says, and mirrored canvases swap left and right."""

from dataclasses import replace

import numpy as np

from service.data.mosaic import Mosaic, MosaicConfig
from service.data.sample import Sample
from service.data.tiles import TileSet, build_tiles
from service.skeleton import AIC14

WRIST = AIC14.joint("left_wrist")


def marked_sample(rng: np.random.Generator) -> Sample:
    image = np.zeros((120, 160, 3), np.uint8)
    kp = np.zeros((1, AIC14.num_joints, 3), np.float32)
    kp[0, :, :2] = rng.uniform([50, 30], [110, 90], (AIC14.num_joints, 2))
    kp[0, :, 2] = 2
    x, y = np.round(kp[0, WRIST, :2]).astype(int)
    image[y - 2:y + 3, x - 2:x + 3] = 255  # a bright 5x5 mark on the left wrist
    kp[0, WRIST, :2] = (x, y)
    box = np.concatenate([kp[0, :, :2].min(0) - 5, kp[0, :, :2].max(0) + 5])[None]
    return Sample(image, kp, box.astype(np.float32), None)


def brightest(image: np.ndarray) -> np.ndarray:
    grey = image.astype(float).sum(2)
    ys, xs = np.nonzero(grey > 0.5 * grey.max())
    return np.array([xs.mean(), ys.mean()])


def test_tile_keeps_keypoints_on_their_pixels(tmp_path):
    tiles = build_tiles([marked_sample(np.random.default_rng(1))], size=96, context=1.6)
    assert tiles.images.shape == (1, 96, 96, 3)
    assert np.abs(brightest(tiles.images[0]) - tiles.keypoints[0, WRIST, :2]).max() < 1.5
    tiles.save(tmp_path / "t.npz")
    again = TileSet.load(tmp_path / "t.npz")
    assert np.array_equal(again.images, tiles.images)


def test_mosaic_base_layer_moves_and_mirrors_keypoints():
    tiles = build_tiles([marked_sample(np.random.default_rng(2))], size=96, context=1.6)
    for flip in (0.0, 1.0):
        cfg = replace(MosaicConfig(size=128, layers=(1.0,), jitter=0.0), flip=flip)
        s = Mosaic(tiles, AIC14, cfg).draw(np.random.default_rng(3))
        channel = AIC14.flip_permutation[WRIST] if flip else WRIST  # mirrored: left -> right
        assert np.abs(brightest(s.image) - s.keypoints[0, channel, :2]).max() < 2.0
        assert s.keypoints.shape == (1, AIC14.num_joints, 3)


def test_pasted_layers_add_people_and_hide_what_they_cover():
    tiles = build_tiles([marked_sample(np.random.default_rng(i)) for i in range(6)], 96, 1.6)
    cfg = MosaicConfig(size=128, layers=(0.0, 0.0, 1.0), max_cover=1.0)
    counts = [len(Mosaic(tiles, AIC14, cfg).draw(np.random.default_rng(i)).boxes)
              for i in range(10)]
    assert max(counts) == 3 and min(counts) >= 1
    s = Mosaic(tiles, AIC14, cfg).draw(np.random.default_rng(4))
    assert set(np.unique(s.keypoints[..., 2])) <= {0.0, 1.0, 2.0}
