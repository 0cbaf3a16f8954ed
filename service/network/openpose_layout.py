"""OpenPose's body "COCO" output layout -> the channels of a project skeleton.

OpenPose's COCO body model (Cao et al., CVPR 2017) answers 19 heatmaps (its 18 joints in its own
order, then the background: branch L2) and 38 part-affinity-field channels (branch L1): 19 limbs
x (x, y). Which channels hold a limb is its published map index (OpenPose's
`POSE_COCO_MAP_IDX`, counted from the first PAF channel); a limb's field points from its first
joint to its second. The project's skeletons name joints, so the layout is matched by name:
maps in the skeleton's joint order then the background, fields (x, y) per skeleton limb in its
(depth-first) limb order, negated where the skeleton's limb runs the other way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service.skeleton import Skeleton

OPENPOSE_JOINTS = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear",
)  # fmt: skip
OPENPOSE_BACKGROUND = len(OPENPOSE_JOINTS)  # heatmap channel 18
NUM_HEATMAPS = len(OPENPOSE_JOINTS) + 1  # 19

# The 19 limbs (joint, joint) in OpenPose's joint indices, in its pair order; the last two (ears
# to shoulders) close loops in the tree and are only used by OpenPose's own grouping.
OPENPOSE_LIMBS = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12),
    (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17), (2, 16), (5, 17),
)  # fmt: skip
# Each limb's (x, y) PAF channels: the published map indices minus the 19 heatmap channels.
OPENPOSE_PAF_CHANNELS = (
    (12, 13), (20, 21), (14, 15), (16, 17), (22, 23), (24, 25), (0, 1), (2, 3), (4, 5), (6, 7),
    (8, 9), (10, 11), (28, 29), (30, 31), (34, 35), (32, 33), (36, 37), (18, 19), (26, 27),
)  # fmt: skip
NUM_PAFS = 2 * len(OPENPOSE_LIMBS)  # 38


@dataclass(frozen=True)
class ChannelLayout:
    """Where each output channel of a skeleton comes from in OpenPose's outputs."""

    map_index: tuple[int, ...]  # (J+1,) heatmap channel per skeleton joint, then background
    field_index: tuple[int, ...]  # (2C,) PAF channel per skeleton field channel
    field_sign: tuple[float, ...]  # (2C,) +1, or -1 where the skeleton's limb runs reversed
    unused_limbs: tuple[int, ...]  # OpenPose limbs the skeleton has no limb for


def _limb_names(a: int, b: int) -> tuple[str, str]:
    return OPENPOSE_JOINTS[a], OPENPOSE_JOINTS[b]


def channel_layout(skeleton: Skeleton) -> ChannelLayout:
    """The skeleton's maps and fields as OpenPose channels (by joint name). Raises ValueError
    naming a joint or limb that OpenPose's COCO body model does not have."""
    missing = [j for j in skeleton.joints if j not in OPENPOSE_JOINTS]
    if missing:
        raise ValueError(f"{skeleton.name}: OpenPose's COCO body model has no {missing}")
    maps = tuple(OPENPOSE_JOINTS.index(j) for j in skeleton.joints) + (OPENPOSE_BACKGROUND,)
    by_names = {_limb_names(a, b): k for k, (a, b) in enumerate(OPENPOSE_LIMBS)}
    index: list[int] = []
    sign: list[float] = []
    used = set()
    for a, b in skeleton.limbs:
        names = (skeleton.joints[a], skeleton.joints[b])
        if names in by_names:
            k, s = by_names[names], 1.0
        elif names[::-1] in by_names:
            k, s = by_names[names[::-1]], -1.0
        else:
            raise ValueError(f"{skeleton.name}: OpenPose has no field for the limb {names}")
        used.add(k)
        index += OPENPOSE_PAF_CHANNELS[k]
        sign += [s, s]
    unused = tuple(k for k in range(len(OPENPOSE_LIMBS)) if k not in used)
    return ChannelLayout(maps, tuple(index), tuple(sign), unused)


def identity_layout(skeleton: Skeleton) -> ChannelLayout:
    """A network that predicts the skeleton's own maps and fields: nothing to reorder."""
    fields = 2 * skeleton.num_limbs
    return ChannelLayout(tuple(range(skeleton.num_maps)), tuple(range(fields)),
                         (1.0,) * fields, ())  # fmt: skip


def describe(skeleton: Skeleton) -> dict[str, Any]:
    """The layout as manifest JSON: OpenPose's own order and how the outputs were reordered."""
    layout = channel_layout(skeleton)
    return {
        "joints": list(OPENPOSE_JOINTS),
        "heatmaps": "19: the 18 joints in this order, then the background (branch L2)",
        "limbs": [list(_limb_names(a, b)) for a, b in OPENPOSE_LIMBS],
        "paf_channels": [list(c) for c in OPENPOSE_PAF_CHANNELS],
        "pafs": "38: (x, y) of each limb at paf_channels, pointing from its first joint to its "
                "second (branch L1)",
        "map_index": list(layout.map_index),
        "field_index": list(layout.field_index),
        "field_sign": list(layout.field_sign),
        "dropped_limbs": [list(_limb_names(*OPENPOSE_LIMBS[k])) for k in layout.unused_limbs],
    }  # fmt: skip
