"""The one skeleton schema: joints, limbs in DFS order from the root, flip pairs, OKS sigmas.

Every channel count in the project is derived from a `Skeleton` (`num_maps`, `num_field_channels`);
nothing types them by hand. A skeleton is data that travels with each model (its manifest).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Skeleton:
    """Joints, limbs (parent, child) in depth-first order from `root`, and OKS sigmas."""

    name: str
    joints: tuple[str, ...]
    limbs: tuple[tuple[int, int], ...]
    sigmas: tuple[float, ...]
    root: int

    def __post_init__(self) -> None:
        n = len(self.joints)
        if len(self.sigmas) != n:
            raise ValueError(f"{self.name}: {len(self.sigmas)} sigmas for {n} joints")
        for a, b in self.limbs:
            if not (0 <= a < n and 0 <= b < n) or a == b:
                raise ValueError(f"{self.name}: bad limb ({a}, {b})")
        if not 0 <= self.root < n:
            raise ValueError(f"{self.name}: root {self.root} out of range")

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    @property
    def num_limbs(self) -> int:
        return len(self.limbs)

    @property
    def num_maps(self) -> int:
        """Confidence-map channels: one per joint plus the background map."""
        return self.num_joints + 1

    @property
    def num_field_channels(self) -> int:
        """Direction-field channels: (x, y) per limb."""
        return 2 * self.num_limbs

    @property
    def flip_permutation(self) -> tuple[int, ...]:
        """Joint index -> index of its left/right twin (itself for centre joints)."""
        perm = list(range(self.num_joints))
        for i, name in enumerate(self.joints):
            twin = _twin_name(name)
            if twin is not None and twin in self.joints:
                perm[i] = self.joints.index(twin)
        return tuple(perm)

    @property
    def flip_pairs(self) -> tuple[tuple[int, int], ...]:
        perm = self.flip_permutation
        return tuple((i, j) for i, j in enumerate(perm) if i < j)

    @property
    def limb_flip_permutation(self) -> tuple[int, ...]:
        """Limb index -> index of the limb that a horizontal flip maps it onto."""
        perm = self.flip_permutation
        index = {limb: c for c, limb in enumerate(self.limbs)}
        return tuple(index[(perm[a], perm[b])] for a, b in self.limbs)

    @property
    def sigmas_array(self) -> np.ndarray:
        return np.asarray(self.sigmas, dtype=np.float64)

    def joint(self, name: str) -> int:
        return self.joints.index(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "joints": list(self.joints),
            "limbs": [list(limb) for limb in self.limbs],
            "sigmas": list(self.sigmas),
            "root": self.root,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Skeleton:
        return cls(
            name=str(data["name"]),
            joints=tuple(str(j) for j in data["joints"]),
            limbs=tuple((int(a), int(b)) for a, b in data["limbs"]),
            sigmas=tuple(float(s) for s in data["sigmas"]),
            root=int(data["root"]),
        )


def _twin_name(name: str) -> str | None:
    for side, other in (("right_", "left_"), ("left_", "right_")):
        if name.startswith(side):
            return other + name[len(side) :]
    return None


AIC_JOINTS = (
    "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle",
    "head_top", "neck",
)  # fmt: skip

AIC14 = Skeleton(
    name="aic14",
    joints=AIC_JOINTS,
    # Depth-first from the neck (13): head, right arm, left arm, right leg, left leg.
    limbs=(
        (13, 12), (13, 0), (0, 1), (1, 2), (13, 3), (3, 4), (4, 5),
        (13, 6), (6, 7), (7, 8), (13, 9), (9, 10), (10, 11),
    ),  # fmt: skip
    sigmas=(
        0.01388152, 0.01515228, 0.01057665, 0.01417709, 0.01497891, 0.01402144, 0.03909642,
        0.03686941, 0.01981803, 0.03843971, 0.03412318, 0.02415081, 0.01291456, 0.01236173,
    ),  # fmt: skip
    root=13,
)

COCO_JOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "neck",
)  # fmt: skip

COCO17_JOINTS = COCO_JOINTS[:17]  # COCO's own keypoint order; COCO-18 adds the neck last

COCO_SIGMAS_17 = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062,
    0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
)  # fmt: skip

# OpenPose's COCO-18 tree: its 19 limbs less the two ear-shoulder links that close loops, as
# (joint, joint) names; head, right arm, left arm, right leg, left leg.
COCO18_TREE = (
    ("neck", "nose"), ("nose", "right_eye"), ("right_eye", "right_ear"), ("nose", "left_eye"),
    ("left_eye", "left_ear"),
    ("neck", "right_shoulder"), ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("neck", "left_shoulder"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("neck", "right_hip"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
    ("neck", "left_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
)  # fmt: skip


def dfs_limbs(
    joints: tuple[str, ...], edges: tuple[tuple[str, str], ...], root: str
) -> tuple[tuple[int, int], ...]:
    """Tree edges (joint names, either direction) -> limbs (parent, child) as joint indices in
    depth-first order from `root`; a joint's children in the order the edges name them.

    Raises ValueError unless the edges form a spanning tree of `joints`.
    """
    index = {name: i for i, name in enumerate(joints)}
    neighbours: dict[int, list[int]] = {i: [] for i in range(len(joints))}
    for a, b in edges:
        neighbours[index[a]].append(index[b])
        neighbours[index[b]].append(index[a])
    limbs: list[tuple[int, int]] = []
    seen = {index[root]}
    stack = [index[root]]
    while stack:  # iterative DFS: a joint's subtree is finished before its next sibling
        parent = stack[-1]
        child = next((c for c in neighbours[parent] if c not in seen), None)
        if child is None:
            stack.pop()
            continue
        seen.add(child)
        limbs.append((parent, child))
        stack.append(child)
    if len(seen) != len(joints) or len(edges) != len(joints) - 1:
        raise ValueError(f"{len(edges)} edges do not form a spanning tree of {len(joints)} joints")
    return tuple(limbs)


COCO18 = Skeleton(
    name="coco18",
    joints=COCO_JOINTS,
    # Depth-first from the derived neck (17). The neck's sigma is the shoulders' (it sits at
    # their midpoint).
    limbs=dfs_limbs(COCO_JOINTS, COCO18_TREE, "neck"),
    sigmas=COCO_SIGMAS_17 + (0.079,),
    root=17,
)

SKELETONS = {"aic14": AIC14, "coco18": COCO18}

# COCO's sigmas placed on the AIC-14 joints (for reporting AP "with COCO's sigmas"): shoulders,
# elbows, wrists, hips, knees, ankles map one-to-one; head_top takes the nose's, neck the
# shoulders'.
COCO_SIGMAS_ON_AIC14 = (
    0.079, 0.072, 0.062, 0.079, 0.072, 0.062, 0.107, 0.087, 0.089, 0.107, 0.087, 0.089,
    0.026, 0.079,
)  # fmt: skip


def coco17_to_coco18(keypoints: np.ndarray) -> np.ndarray:
    """(N, 17, 3) COCO keypoints -> (N, 18, 3) with the neck at the shoulders' midpoint.

    The neck is labelled only when both shoulders are; its flag is the lower of the two.
    """
    kp = np.asarray(keypoints, dtype=np.float64).reshape(-1, 17, 3)
    ls, rs = kp[:, 5], kp[:, 6]
    both = (ls[:, 2] > 0) & (rs[:, 2] > 0)
    neck = np.zeros((kp.shape[0], 1, 3))
    neck[both, 0, :2] = (ls[both, :2] + rs[both, :2]) / 2
    neck[both, 0, 2] = np.minimum(ls[both, 2], rs[both, 2])
    return np.concatenate([kp, neck], axis=1)
