"""Source joint orders -> the AI Challenger 14 joints (AIC-14): the one joint-mapping table.

Each `JointMap` says, for every AIC-14 joint, which joint of the source labels it, or that none
does: such a joint is **unlabelled** (v = 0), neither positive nor negative in the loss and not
counted in evaluation. Two kinds of stand-in are offered, never applied silently:
- `proxies`: a source joint near, but not at, the AIC-14 joint (PoseTrack's head_bottom for the
  neck), used only with `proxies=True`;
- `neck_from_shoulders=True`: an unlabelled neck becomes the shoulders' midpoint (labelled only
  when both shoulders are, with the lower of their flags), as COCO-18 derives its neck.
COCO-17 has no neck and no head top: both stay unlabelled. docs/data.md renders this table
(`markdown_table`); a test checks that the two agree.

Flags are converted before mapping, by the source's `visibility` convention, into the project's
0 unlabelled / 1 labelled but hidden / 2 visible. Sources that say only "labelled" (PoseTrack,
MPII's list format) become 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service.skeleton import AIC14, COCO17_JOINTS

NECK, HEAD_TOP = AIC14.joint("neck"), AIC14.joint("head_top")
R_SHOULDER, L_SHOULDER = AIC14.joint("right_shoulder"), AIC14.joint("left_shoulder")
LIMBS12 = tuple(range(12))  # AIC-14's shoulders..ankles: the joints every source labels

# raw flag -> project flag; flags missing from a table become 0
VISIBILITY: dict[str, dict[int, int]] = {
    "coco": {0: 0, 1: 1, 2: 2},  # COCO and the mmpose files: 2 visible, 1 hidden, 0 none
    "labelled": {0: 0, 1: 2, 2: 2},  # 1 = labelled, no occlusion flag (PoseTrack, MPII list)
}
FLAG_TEXT = {
    "coco": "2 visible, 1 hidden, 0 none",
    "labelled": "1 labelled -> 2",
    "lsp": "1 -> 2; 0 placed -> 1, unplaced -> 0 (data/lsp.py)",
}


@dataclass(frozen=True)
class JointMap:
    """One source joint order and, per AIC-14 joint, the source index that labels it."""

    name: str
    joints: tuple[str, ...]  # the source's joint names, in its order
    aic14: tuple[int | None, ...]  # AIC-14 joint -> source index; None = unlabelled
    visibility: str = "coco"  # a key of VISIBILITY ("lsp": data/lsp.py converts the flags)
    proxies: tuple[tuple[int, int], ...] = ()  # (AIC-14 joint, source index), opt-in only
    note: str = ""

    def __post_init__(self) -> None:
        if len(self.aic14) != AIC14.num_joints:
            raise ValueError(f"{self.name}: {len(self.aic14)} entries for 14 AIC joints")
        used = [i for i in self.aic14 if i is not None] + [i for _, i in self.proxies]
        if any(not 0 <= i < len(self.joints) for i in used):
            raise ValueError(f"{self.name}: a source index is out of range")


_COCO17 = COCO17_JOINTS
_COCO17_TO_AIC = (6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, None, None)
_CROWDPOSE = ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
              "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
              "right_ankle", "head", "neck")  # fmt: skip
_MPII = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
         "pelvis", "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow",
         "right_shoulder", "left_shoulder", "left_elbow", "left_wrist")  # fmt: skip
_LSP = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
        "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
        "left_wrist", "neck", "head_top")  # fmt: skip
_POSETRACK = ("nose", "head_bottom", "head_top") + _COCO17[3:]
_JHMDB = ("neck", "belly", "head", "right_shoulder", "left_shoulder", "right_hip", "left_hip",
          "right_elbow", "left_elbow", "right_knee", "left_knee", "right_wrist", "left_wrist",
          "right_ankle", "left_ankle")  # fmt: skip
_HALPE26 = _COCO17 + ("head", "neck", "hip", "left_big_toe", "right_big_toe", "left_small_toe",
                      "right_small_toe", "left_heel", "right_heel")  # fmt: skip

JOINT_MAPS: dict[str, JointMap] = {
    "aic14": JointMap("aic14", AIC14.joints, tuple(range(14)),
                      note="AI Challenger (the mmpose json; the original list: data/aic.py)"),
    "lsp": JointMap("lsp", _LSP, (8, 7, 6, 9, 10, 11, 2, 1, 0, 3, 4, 5, 13, 12), "lsp",
                    note="LSP / LSPet joints.mat"),
    "coco17": JointMap("coco17", _COCO17, _COCO17_TO_AIC,
                       note="COCO, OCHuman; no neck, no head top"),
    "crowdpose": JointMap("crowdpose", _CROWDPOSE, (1, 3, 5, 0, 2, 4, 7, 9, 11, 6, 8, 10, 12, 13),
                          note="CrowdPose, ExLPose; 'head' is the head top"),
    "mpii": JointMap("mpii", _MPII, (12, 11, 10, 13, 14, 15, 2, 1, 0, 3, 4, 5, 9, 8),
                     note="MPII (list format: labelled only), MHP; upper_neck is the neck"),
    "posetrack": JointMap("posetrack", _POSETRACK, _COCO17_TO_AIC[:12] + (2, None), "labelled",
                          proxies=((NECK, 1),),
                          note="PoseTrack18; head_bottom stands in for the neck (opt-in)"),
    "jhmdb": JointMap("jhmdb", _JHMDB, (3, 7, 11, 4, 8, 12, 5, 9, 13, 6, 10, 14, None, 0),
                      note="JHMDB; its 'head' is the head's centre, not the top"),
    "halpe26": JointMap("halpe26", _HALPE26, _COCO17_TO_AIC[:12] + (17, 18),
                        note="Halpe (first 26 of 136); 'head' is the head top"),
}


def convert_flags(raw: np.ndarray, convention: str) -> np.ndarray:
    """(..., K, 3) raw x, y, flag -> the same with project flags; unlabelled joints at (0, 0)."""
    table = VISIBILITY[convention]
    out = np.array(raw, dtype=np.float64, copy=True)
    flags = np.rint(out[..., 2]).astype(np.int64)
    lookup = np.zeros(max(max(table), int(flags.max(initial=0))) + 1, np.float64)
    for source, project in table.items():
        lookup[source] = project
    out[..., 2] = np.where(flags >= 0, lookup[np.clip(flags, 0, None)], 0.0)
    out[out[..., 2] == 0] = 0.0
    return out


def to_aic14(keypoints: np.ndarray, joint_map: JointMap, proxies: bool = False,
             neck_from_shoulders: bool = False) -> np.ndarray:
    """(N, K, 3) source keypoints with project flags -> (N, 14, 3) in AIC-14 order."""
    kp = np.asarray(keypoints, dtype=np.float64).reshape(-1, len(joint_map.joints), 3)
    out = np.zeros((kp.shape[0], AIC14.num_joints, 3))
    for target, source in enumerate(joint_map.aic14):
        if source is not None:
            out[:, target] = kp[:, source]
    if proxies:
        for target, source in joint_map.proxies:
            out[:, target] = kp[:, source]
    if neck_from_shoulders and joint_map.aic14[NECK] is None:
        out = derive_neck(out)
    return out


def derive_neck(keypoints: np.ndarray) -> np.ndarray:
    """(N, 14, 3) AIC-14 -> a copy whose unlabelled necks are the shoulders' midpoint where both
    shoulders are labelled (flag: the lower of the two)."""
    out = np.array(keypoints, dtype=np.float64, copy=True)
    rs, ls = out[:, R_SHOULDER], out[:, L_SHOULDER]
    fill = (rs[:, 2] > 0) & (ls[:, 2] > 0) & (out[:, NECK, 2] == 0)
    out[fill, NECK, :2] = (rs[fill, :2] + ls[fill, :2]) / 2
    out[fill, NECK, 2] = np.minimum(rs[fill, 2], ls[fill, 2])
    return out


def markdown_table() -> str:
    """The table as markdown: one row per source, one column per AIC-14 joint (the source's
    index and joint name; '-' unlabelled; '(i name)' an opt-in proxy)."""
    short = [j.replace("right_", "r_").replace("left_", "l_") for j in AIC14.joints]
    lines = ["| source | " + " | ".join(short) + " | flags | sources |",
             "|---|" + "---|" * (len(short) + 2)]
    for jm in JOINT_MAPS.values():
        proxy = dict(jm.proxies)
        cells = []
        for target, source in enumerate(jm.aic14):
            if source is not None:
                cells.append(f"{source} {jm.joints[source]}")
            else:
                cells.append(f"({proxy[target]} {jm.joints[proxy[target]]})" if target in proxy
                             else "-")
        lines.append(f"| {jm.name} | " + " | ".join(cells)
                     + f" | {FLAG_TEXT[jm.visibility]} | {jm.note} |")
    return "\n".join(lines)
