"""The skeleton schema: DFS order from the root, flip pairs, sigmas, COCO-18's derived neck."""

import numpy as np
import pytest

from service.skeleton import AIC14, COCO18, SKELETONS, Skeleton, coco17_to_coco18


@pytest.mark.parametrize("skeleton", list(SKELETONS.values()))
def test_limbs_form_a_tree_in_depth_first_order(skeleton):
    reached = {skeleton.root}
    for parent, child in skeleton.limbs:
        assert parent in reached, f"limb ({parent}, {child}) before its parent was reached"
        assert child not in reached
        reached.add(child)
    assert reached == set(range(skeleton.num_joints))  # a spanning tree: J - 1 limbs
    assert skeleton.num_limbs == skeleton.num_joints - 1


def test_aic14_matches_the_paper():
    assert AIC14.joints[13] == "neck" and AIC14.root == 13
    assert AIC14.num_maps == 15 and AIC14.num_field_channels == 26
    names = [(AIC14.joints[a], AIC14.joints[b]) for a, b in AIC14.limbs]
    assert names[:4] == [("neck", "head_top"), ("neck", "right_shoulder"),
                         ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist")]
    assert AIC14.flip_pairs == ((0, 3), (1, 4), (2, 5), (6, 9), (7, 10), (8, 11))
    assert AIC14.sigmas[0] == pytest.approx(0.01388152)


@pytest.mark.parametrize("skeleton", list(SKELETONS.values()))
def test_flip_maps_limbs_onto_limbs(skeleton):
    perm = skeleton.limb_flip_permutation
    assert sorted(perm) == list(range(skeleton.num_limbs))
    for c, d in enumerate(perm):
        a, b = skeleton.limbs[c]
        fa, fb = skeleton.flip_permutation[a], skeleton.flip_permutation[b]
        assert skeleton.limbs[d] == (fa, fb)


def test_round_trip_through_dict():
    assert Skeleton.from_dict(COCO18.to_dict()) == COCO18


def test_rejects_inconsistent_schema():
    with pytest.raises(ValueError, match="sigmas"):
        Skeleton("bad", ("a", "b"), ((0, 1),), (0.1,), 0)
    with pytest.raises(ValueError, match="limb"):
        Skeleton("bad", ("a", "b"), ((0, 2),), (0.1, 0.1), 0)


def test_coco17_to_coco18_neck_is_shoulder_midpoint():
    kp = np.zeros((2, 17, 3))
    kp[0, 5] = (10, 20, 2)
    kp[0, 6] = (30, 40, 1)
    kp[1, 5] = (10, 20, 2)  # right shoulder missing: no neck
    out = coco17_to_coco18(kp)
    assert out.shape == (2, 18, 3)
    assert out[0, 17].tolist() == [20, 30, 1]
    assert out[1, 17].tolist() == [0, 0, 0]
