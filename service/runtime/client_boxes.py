"""Poses parsed in the client's boxes -> exactly one pose per box, in the client's order.

The box parser gives at most one pose per box, but a box can come back without one: pose NMS
removed its pose as another box's duplicate and nothing else was left for it, or fewer than
`min_joints` joints connected in it. A client box says a person is there, so it is always
answered: the boxes left without a pose are parsed again, together and with pose NMS off (each
gets its own best pose, even one another box also holds), and a box where still nothing is found
is answered with no joint (all null in the JSON) and score 0.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from service.types import Box, Pose

# Parsers that honour boxes (service.parsing.PARSERS); the greedy one ignores them.
ONE_PER_BOX_PARSERS = frozenset({"boxes"})


def answer_each_box(
    poses: list[Pose],
    boxes: list[Box],
    num_joints: int,
    reparse: Callable[[list[Box]], list[Pose]],
) -> list[Pose]:
    """Poses whose `box` is one of `boxes` (the same objects) -> one pose per box, in order.

    reparse: boxes -> their poses, without pose NMS (called once, with the boxes left over)."""
    answer: list[Pose | None] = [None] * len(boxes)
    _assign(answer, poses, boxes)
    missing = [box for box, pose in zip(boxes, answer, strict=True) if pose is None]
    if missing:
        _assign(answer, reparse(missing), boxes)
    return [pose if pose is not None else empty_pose(box, num_joints)
            for box, pose in zip(boxes, answer, strict=True)]  # fmt: skip


def _assign(answer: list[Pose | None], poses: list[Pose], boxes: list[Box]) -> None:
    """Each pose to its box (by identity: equal boxes are still two boxes), the best-scoring
    one where a box has several; boxes already answered keep their pose."""
    index = {id(box): k for k, box in enumerate(boxes)}
    fresh = [k for k, pose in enumerate(answer) if pose is None]
    for pose in poses:
        k = index.get(id(pose.box)) if pose.box is not None else None
        if k is None or k not in fresh:
            continue
        current = answer[k]
        if current is None or pose.score > current.score:
            answer[k] = pose


def empty_pose(box: Box, num_joints: int) -> Pose:
    """A box where nothing was found: no joint, score 0."""
    return Pose(np.zeros((num_joints, 3)), 0.0, box, np.full(num_joints, -1, dtype=np.int64),
                np.zeros(0))  # fmt: skip
