"""Test-time flip: outputs of the mirrored image, brought back, equal the original's outputs."""

from pathlib import Path

import numpy as np
import pytest
import torch

from service.parsing import unflip_outputs
from service.runtime.bottomup import BottomupPipeline
from service.runtime.manifest import Manifest
from service.runtime.model_store import LoadedModel
from service.runtime.protocol import ImageInput, PipelineConfig
from service.skeleton import AIC14
from service.targets import TargetConfig, encode
from tests.parsing.parsing_helpers import person

MANIFEST = Manifest(kind="pose", file="model.pt", sha256="0", output_stride=4)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_unflip_of_the_mirrored_targets_gives_the_targets(seed):
    skeleton = AIC14
    width, height, stride = 480, 320, 4  # width a multiple of the stride: cells mirror onto cells
    rng = np.random.default_rng(seed)
    kp = np.stack([person(x, 80, 150) for x in (120, 260, 380)])  # (3, J, 3)
    kp[..., :2] += rng.normal(0, 12, kp[..., :2].shape)  # asymmetric poses
    mirrored = kp.copy()
    mirrored[..., 0] = np.where(kp[..., 2] > 0, width - 1 - kp[..., 0], 0)
    mirrored = mirrored[:, list(skeleton.flip_permutation)]  # the left wrist is still the left
    cfg = TargetConfig(stride=stride)
    want = encode(kp, skeleton, height, width, cfg)
    got = encode(mirrored, skeleton, height, width, cfg)
    maps, fields = unflip_outputs(got.maps, got.fields, skeleton)
    assert np.abs(maps - want.maps).max() < 1e-4
    assert np.abs(fields - want.fields).max() < 1e-4
    # The batched form (leading axes) does the same per item.
    batched_maps, _ = unflip_outputs(got.maps[None], got.fields[None], skeleton)
    assert np.array_equal(batched_maps[0], maps)


class _Mirror(torch.nn.Module):
    """A stand-in pose net whose maps are the image's red channel: mirror-equivariant by
    construction, so the flip test must leave its output unchanged."""

    def forward(self, x):
        red = torch.nn.functional.avg_pool2d(x[:, :1], 4) / 255.0  # cell j: columns 4j..4j+3
        maps = red.repeat(1, AIC14.num_maps, 1, 1)
        fields = torch.zeros(x.shape[0], AIC14.num_field_channels, *red.shape[-2:])
        return maps, fields


def test_pipeline_flip_averages_the_mirrored_pass():
    pose = LoadedModel("mirror", "pose", _Mirror(), MANIFEST, AIC14, 4, "", Path("."), "cpu")
    image = np.random.default_rng(0).integers(0, 255, (48, 72, 3), dtype=np.uint8)
    plain = BottomupPipeline(pose, None, PipelineConfig()).forward_batch
    flipped = BottomupPipeline(pose, None, PipelineConfig(flip=True)).forward_batch
    a = plain([ImageInput(image, [], (1.0,))]).images[0]
    b = flipped([ImageInput(image, [], (1.0,))]).images[0]
    assert a.maps.shape == b.maps.shape
    # Left/right joints swap channels but every channel holds the same red image here.
    assert np.allclose(a.maps, b.maps, atol=1e-6)
    # A net that is not mirror-symmetric is averaged with its mirrored pass.
    class _Left(_Mirror):
        def forward(self, x):
            maps, fields = super().forward(x)
            return maps * torch.linspace(0, 1, maps.shape[-1]), fields

    left = LoadedModel("left", "pose", _Left(), MANIFEST, AIC14, 4, "", Path("."), "cpu")
    c = BottomupPipeline(left, None, PipelineConfig(flip=True)).forward_batch(
        [ImageInput(image, [], (1.0,))]).images[0]
    ramp = np.linspace(0, 1, a.maps.shape[-1])
    assert np.allclose(c.maps, a.maps * (ramp + ramp[::-1]) / 2, atol=1e-5)
