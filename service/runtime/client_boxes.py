"""Poses parsed in the client's boxes -> exactly one pose per box, in the client's order.

The box parser gives at most one pose per box, but a box can come back without one: every
person it reaches is owned by another box (`ParserConfig.joint_ownership`: a second box drawn
around one person, or a box whose own person is not in the maps while a neighbour is), or fewer
than `min_joints` joints connected in it. A client box says a person is there, so it is always
answered: a box left without a pose answers the pose that fits it at least as well as that
pose's own box (`shared_answers`: the same person, boxed twice), never a neighbour that fits
its own box better; without ownership, the boxes left over are parsed again, together and with
pose NMS off. A box where still nothing is found is answered with no joint (all null in the
JSON) and score 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from service.parsing.assembly import box_fit
from service.parsing.poses import tight_box
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


def shared_answers(poses: list[Pose]) -> Callable[[list[Box]], list[Pose]]:
    """The `reparse` of `answer_each_box` under joint ownership: each box left over answers a
    copy of the pose whose joints' tight box fits it (IoU) at least as well as that pose's own
    box, the best-fitting one, or nothing."""

    def answer(rest: list[Box]) -> list[Pose]:
        fits = []  # (pose, its joints' tight box, the tight box's fit to the pose's own box)
        for pose in poses:
            tight = tight_box(pose.keypoints)
            if pose.box is None or tight is None:
                continue
            bounds = (tight.x1, tight.y1, tight.x2, tight.y2)
            fits.append((pose, bounds, box_fit(bounds, pose.box)))
        out = []
        for box in rest:
            shared = [(fit, pose) for pose, bounds, own in fits
                      if (fit := box_fit(bounds, box)) >= own > 0]  # fmt: skip
            if shared:
                pose = max(shared, key=lambda f: f[0])[1]
                out.append(replace(pose, keypoints=pose.keypoints.copy(), box=box,
                                   candidate_ids=pose.candidate_ids.copy()))  # fmt: skip
        return out

    return answer
