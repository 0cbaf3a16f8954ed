"""The COCO-18 skeleton end to end through the parser: oracle maps (the project's target encoder,
at OpenPose's stride 8) parse back into the people they were drawn from, also after a trip
through OpenPose's own channel layout and the imported model's reordering."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "importers"))

from openpose_fakes import LIMB_SEQ, MAP_IDX, OP_JOINTS  # noqa: E402
from parsing_helpers import match_errors  # noqa: E402

from service.evaluation.synthetic import Scene, SceneConfig, random_scene  # noqa: E402
from service.network.openpose import project_outputs  # noqa: E402
from service.network.openpose_layout import channel_layout  # noqa: E402
from service.parsing import parse  # noqa: E402
from service.skeleton import AIC14, COCO18, COCO18_TREE, dfs_limbs  # noqa: E402
from service.targets import TargetConfig, encode  # noqa: E402

H, W, STRIDE = 368, 496, 8
TARGETS = TargetConfig(stride=STRIDE, sigma=7.0, delta=8.0)


@pytest.fixture(scope="module")
def scene() -> Scene:
    cfg = SceneConfig(height=H, width=W, min_size=230.0, max_size=330.0, limb_angle=15.0,
                      occluded=0.0, min_separation=40.0)  # fmt: skip
    return random_scene(np.random.default_rng(4), cfg, COCO18, people=3)


@pytest.fixture(scope="module")
def people(scene: Scene) -> np.ndarray:
    return scene.keypoints


def test_dfs_order_is_derived_from_openposes_tree_with_the_neck_as_root() -> None:
    op_tree = [(OP_JOINTS[a - 1], OP_JOINTS[b - 1]) for a, b in LIMB_SEQ[:17]]  # no ear loops
    derived = dfs_limbs(COCO18.joints, tuple(op_tree), "neck")
    assert set(derived) == set(COCO18.limbs)  # same tree, same directions as OpenPose's PAFs
    assert COCO18.limbs == dfs_limbs(COCO18.joints, COCO18_TREE, "neck")
    assert COCO18.root == COCO18.joint("neck") and COCO18.limbs[0][0] == COCO18.root
    with pytest.raises(ValueError, match="spanning tree"):
        dfs_limbs(COCO18.joints, COCO18_TREE[:-1], "neck")


@pytest.mark.parametrize("with_boxes", [True, False])
def test_oracle_coco18_maps_parse_back_into_their_people(scene: Scene, with_boxes: bool) -> None:
    people = scene.keypoints
    assert people.shape == (3, 18, 3)
    t = encode(people, COCO18, H, W, TARGETS)
    boxes = list(scene.boxes) if with_boxes else None  # None: boxes from a greedy grouping
    poses = parse("boxes", t.maps, t.fields, COCO18, STRIDE, boxes)
    assert len(poses) == 3
    labelled = people[..., 2] > 0  # one person runs out of the image
    assert (match_errors(poses, people)[labelled] < 1.0).all()
    assert sum(p.num_visible for p in poses) == labelled.sum()


def _openpose_native(maps: np.ndarray, fields: np.ndarray, rng: np.random.Generator
                     ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """COCO18 maps/fields -> OpenPose's (1, 38) PAFs and (1, 19) heatmaps by its published
    layout; the two ear-shoulder PAFs (no COCO18 limb) filled with noise."""
    heat = np.zeros((19, *maps.shape[1:]), np.float32)
    for j, name in enumerate(COCO18.joints):
        heat[OP_JOINTS.index(name)] = maps[j]
    heat[18] = maps[-1]
    pafs = rng.normal(0, 1, (38, *maps.shape[1:])).astype(np.float32)
    for c, (a, b) in enumerate(COCO18.limbs):
        pair = [OP_JOINTS.index(COCO18.joints[a]) + 1, OP_JOINTS.index(COCO18.joints[b]) + 1]
        x, y = MAP_IDX[LIMB_SEQ.index(pair)]
        pafs[x - 19], pafs[y - 19] = fields[2 * c], fields[2 * c + 1]
    return torch.from_numpy(pafs)[None], torch.from_numpy(heat)[None]


def test_openposes_layout_through_the_models_reordering_parses_back(people: np.ndarray) -> None:
    t = encode(people, COCO18, H, W, TARGETS)
    pafs, heat = _openpose_native(t.maps, t.fields, np.random.default_rng(0))
    layout = channel_layout(COCO18)
    maps, fields = project_outputs(
        pafs, heat, torch.tensor(layout.map_index), torch.tensor(layout.field_index),
        torch.tensor(layout.field_sign), *t.maps.shape[1:],
    )  # the exported module's last step
    np.testing.assert_array_equal(maps[0].numpy(), t.maps)
    np.testing.assert_array_equal(fields[0].numpy(), t.fields)
    poses = parse("greedy", maps[0].numpy(), fields[0].numpy(), COCO18, STRIDE, None)
    labelled = people[..., 2] > 0
    assert (match_errors(poses, people)[labelled] < 1.0).all()


def test_a_skeleton_openpose_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="head_top"):
        channel_layout(AIC14)
