"""Poses -> poses without redundant ones: pose NMS (Eq. 10-11) ranked by pose confidence (Eq. 9)."""

from __future__ import annotations

import numpy as np

from service.types import Pose


def pose_distances(ref: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Eq. 10. ref (J,) and others (N, J) candidate ids (-1 = none) -> (N,) distances.

    d = (number of joints whose candidate differs) / max(visible joints of the two poses).
    """
    differ = (others != ref[None, :]).sum(axis=1)  # (N,)
    n_ref = int((ref >= 0).sum())
    n_others = (others >= 0).sum(axis=1)
    return differ / np.maximum(np.maximum(n_others, n_ref), 1)


def pose_nms(poses: list[Pose], eta: float) -> list[Pose]:
    """Take the most confident pose (its `score`, Eq. 9) as reference, drop every other pose
    with d <= eta (Eq. 11), repeat on the rest. Returns the kept poses by decreasing score."""
    if len(poses) < 2:
        return list(poses)
    order = sorted(range(len(poses)), key=lambda k: -poses[k].score)
    ids = np.stack([poses[k].candidate_ids for k in order])  # (N, J)
    alive = np.ones(len(order), dtype=bool)
    kept = []
    for r in range(len(order)):
        if not alive[r]:
            continue
        kept.append(poses[order[r]])
        alive[r] = False
        rest = np.flatnonzero(alive)
        if rest.size:
            alive[rest[pose_distances(ids[r], ids[rest]) <= eta]] = False
    return kept
