"""Track boxes (a video's people where the previous frame saw them, `BoxSource.TRACK`): a person
whose maps are too weak in one frame for the greedy grouping to hold them together is parsed
whole in their track box; people outside every track box are still found (greedy boxes join the
track boxes); the pose is answered in the box of its own joints, not the track box."""

from __future__ import annotations

import numpy as np
from parsing_helpers import STRIDE, W, match_errors, person, scene

from service.parsing import ParserConfig, parse, parse_greedy
from service.parsing.poses import tight_box
from service.skeleton import AIC14
from service.types import Box, BoxSource

# neck-hip and knee-ankle on both sides: the legs connect neither to the neck nor into a
# fragment of 3 joints the greedy grouping would keep
TORN = [AIC14.limbs.index(limb) for limb in ((13, 6), (13, 9), (7, 8), (10, 11))]


def _torn(fields: np.ndarray) -> np.ndarray:
    """The fields with the TORN limbs gone."""
    torn = fields.copy()
    for limb in TORN:
        torn[2 * limb: 2 * limb + 2] = 0.0
    return torn


def _track_box(kp: np.ndarray, source: BoxSource = BoxSource.TRACK) -> Box:
    x1, y1 = kp[:, :2].min(0) - 15
    x2, y2 = kp[:, :2].max(0) + 15
    return Box(float(x1), float(y1), float(x2), float(y2), 1.0, source)


def test_a_person_torn_at_the_hips_is_whole_in_their_track_box() -> None:
    kp, maps, fields, _ = scene(person(150, 100), person(W - 110, 100))
    fields = _torn(fields)
    greedy = parse_greedy(maps, fields, AIC14, STRIDE, None, ParserConfig())
    assert all((p.keypoints[:, 2] > 0).sum() < 10 for p in greedy)  # torn: no one is whole
    poses = parse("boxes", maps, fields, AIC14, STRIDE, [_track_box(kp[0])])
    errors = match_errors(poses, kp)
    assert (errors[0] < 3.0).all(), errors[0]  # every joint of the tracked person, legs too
    assert np.isfinite(errors[1]).sum() >= 6  # the untracked person still found (greedy box)
    tracked = min(poses, key=lambda p: np.abs(p.keypoints[:, 0] - 150).mean())
    assert tracked.box is not None and tracked.box.source is BoxSource.TRACK
    own = tight_box(tracked.keypoints)
    assert own is not None
    # answered in the box of its own joints grown by 20% (+4 px), as greedy boxes are made
    width, height = own.x2 - own.x1, own.y2 - own.y1
    expected = (own.x1 - 0.1 * width - 4, own.y1 - 0.1 * height - 4,
                own.x2 + 0.1 * width + 4, own.y2 + 0.1 * height + 4)
    assert np.allclose(tracked.box.as_list(), expected)
    assert abs(tracked.box.x1 - _track_box(kp[0]).x1) > 1.0


def test_without_a_track_box_the_torn_persons_legs_are_not_theirs() -> None:
    kp, maps, fields, _ = scene(person(150, 100))
    poses = parse("boxes", maps, _torn(fields), AIC14, STRIDE, None)
    errors = match_errors(poses, kp)
    assert not (errors[0] < 3.0).all()  # the contrast: the default boxes lose the legs
