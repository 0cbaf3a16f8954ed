"""Contracts of the synthetic scene generator: determinism, consistent AIC-14 annotations,
left/right by view, truncation, joints on the drawn body, the COCO file it writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from service.data.synth import SynthConfig, generate_scene
from service.data.synth import body as B
from service.data.synth import pose as P
from service.data.synth.writer import contact_sheet, write_dataset
from service.skeleton import AIC14

R_SHO, L_SHO, R_HIP, L_HIP = 0, 3, 6, 9


def test_same_seed_same_scene_different_seed_different_scene() -> None:
    a = generate_scene(np.random.default_rng(11), 160, 128)
    b = generate_scene(np.random.default_rng(11), 160, 128)
    c = generate_scene(np.random.default_rng(12), 160, 128)
    assert a.image.shape == (128, 160, 3) and a.image.dtype == np.uint8
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.keypoints, b.keypoints)
    np.testing.assert_array_equal(a.boxes, b.boxes)
    assert not np.array_equal(a.image, c.image)


@pytest.mark.parametrize("seed", range(6))
def test_annotations_are_consistent(seed: int) -> None:
    cfg = SynthConfig(min_people=4, max_people=10)
    s = generate_scene(np.random.default_rng(seed), 192, 160, cfg)
    n = len(s.keypoints)
    assert s.keypoints.shape == (n, AIC14.num_joints, 3) and s.boxes.shape == (n, 4)
    v = s.keypoints[..., 2]
    assert set(np.unique(v)) <= {0.0, 1.0, 2.0}
    assert np.all(s.keypoints[v == 0][:, :2] == 0)  # truncated: x = y = 0
    inside = s.keypoints[v > 0][:, :2]
    assert np.all((inside >= 0) & (inside <= [191, 159]))
    assert np.all((s.boxes[:, :2] >= 0) & (s.boxes[:, 2:] <= [192, 160]))
    assert np.all(s.boxes[:, 2:] > s.boxes[:, :2])
    for kp, box in zip(s.keypoints, s.boxes, strict=True):
        seen = kp[kp[:, 2] == 2, :2]  # a visible joint is on the drawn body, so in its box
        assert np.all((seen >= box[:2] - 1.5) & (seen <= box[2:] + 1.5))


def test_people_cut_by_the_border_have_truncated_joints() -> None:
    cfg = SynthConfig(min_people=10, max_people=12, min_height=0.5)
    flags = np.concatenate([generate_scene(np.random.default_rng(s), 128, 128, cfg)
                            .keypoints[..., 2].ravel() for s in range(4)])
    assert (flags == 0).any() and (flags == 2).any() and (flags == 1).any()


STANDING = [k for k in P.POSE_KINDS if k != "lying"]


@pytest.mark.parametrize("seed", range(20))
def test_front_view_has_the_right_side_on_the_image_left(seed: int) -> None:
    rng = np.random.default_rng(seed)
    kind = STANDING[seed % len(STANDING)]
    front = P.pose_person(rng, 200.0, kind, view=("front", float(rng.uniform(-35, 35))))
    back = P.pose_person(rng, 200.0, kind, view=("back", float(rng.uniform(145, 215))))
    assert front.points[R_SHO, 0] < front.points[L_SHO, 0]
    assert front.points[R_HIP, 0] < front.points[L_HIP, 0]
    assert back.points[R_SHO, 0] > back.points[L_SHO, 0]
    assert back.points[R_HIP, 0] > back.points[L_HIP, 0]


@pytest.mark.parametrize("mark", ["buttons", "print", "plain"])
def test_only_the_front_view_shows_a_face_and_the_front_of_the_top(mark: str) -> None:
    """The facing cue that decides left from right: face, neckline and chest mark in front only."""
    from dataclasses import replace

    rng = np.random.default_rng(5)
    look = replace(B.random_appearance(rng, 200.0), front=mark, hair_style="short")
    drawn = {}
    for view, yaw in (("front", 0.0), ("back", 180.0)):
        person = P.pose_person(np.random.default_rng(9), 200.0, "standing", view=(view, yaw))
        offset = person.points.min(axis=0) - 20
        size = np.ceil(person.points.max(axis=0) - offset + 20).astype(int)
        canvas = B.Canvas(int(size[1]), int(size[0]))
        B.draw_person(canvas, person, look, offset)
        drawn[view] = (canvas, person.points - offset)
    for view, (canvas, pts) in drawn.items():
        on_torso = canvas.pid == B.TORSO
        face = (canvas.pid == B.HEADP) & ((canvas.lab & 7) == B.DARK)  # eyes, mouth
        neckline = on_torso & ((canvas.lab & 7) == B.SKIN)
        accent = on_torso & (((canvas.lab & 7) == B.EXTRA) | ((canvas.lab & 7) == B.DARK))
        front = view == "front"
        assert face.any() == front, view
        assert neckline.any() == front, view
        assert accent.any() == (front and mark != "plain"), view
        if front:  # the neckline hangs below the neck, between the shoulders
            ys, xs = np.nonzero(neckline)
            assert pts[P.R_SHO, 0] < xs.mean() < pts[P.L_SHO, 0]
            assert ys.mean() > pts[P.NECK, 1]


@pytest.mark.parametrize("seed", range(8))
def test_joints_lie_on_the_drawn_body(seed: int) -> None:
    rng = np.random.default_rng(seed)
    person = P.pose_person(rng, 150.0, P.POSE_KINDS[seed % len(P.POSE_KINDS)])
    offset = person.points.min(axis=0) - 20
    size = np.ceil(person.points.max(axis=0) - offset + 20).astype(int)
    canvas = B.Canvas(int(size[1]), int(size[0]))
    B.draw_person(canvas, person, B.random_appearance(rng, 150.0), offset)
    for j, (x, y) in enumerate(person.points[: P.J] - offset):
        cx, cy = int(round(x)), int(round(y))
        window = canvas.lab[cy - 1 : cy + 2, cx - 1 : cx + 2]
        assert (window > 0).any(), AIC14.joints[j]
    # head_top is the top of the head: 3 px beyond it, along the neck-to-head axis, is no head
    top, base = person.points[P.HEAD] - offset, person.points[P.HEAD_BASE] - offset
    unit = (top - base) / np.linalg.norm(top - base)
    beyond, within = top + 3 * unit, top - 2 * unit
    assert canvas.pid[int(round(within[1])), int(round(within[0]))] != 0  # head (or a raised arm)
    assert canvas.pid[int(round(beyond[1])), int(round(beyond[0]))] != B.HEADP


def test_writer_matches_the_in_memory_scenes(tmp_path: Path) -> None:
    coco = write_dataset(tmp_path, count=3, seed=40, width=128, height=96, workers=1)
    data = json.loads((tmp_path / "annotations.json").read_text())
    assert data == json.loads(json.dumps(coco))
    assert data["categories"][0]["keypoints"] == list(AIC14.joints)
    assert len(data["images"]) == 3
    assert all((tmp_path / "images" / im["file_name"]).exists() for im in data["images"])
    for im in data["images"]:
        scene = generate_scene(np.random.default_rng(40 + im["id"] - 1), 128, 96)
        anns = [a for a in data["annotations"] if a["image_id"] == im["id"]]
        assert len(anns) == len(scene.keypoints)
        for a, kp in zip(anns, scene.keypoints, strict=True):
            np.testing.assert_allclose(np.reshape(a["keypoints"], (14, 3)), kp, atol=0.01)
            assert a["num_keypoints"] == int((kp[:, 2] > 0).sum())
            x, y, w, h = a["bbox"]
            assert a["area"] == pytest.approx(w * h) and w > 0 and h > 0


def test_parallel_writing_gives_the_same_files(tmp_path: Path) -> None:
    one = write_dataset(tmp_path / "a", count=4, seed=3, width=96, height=96, workers=1)
    two = write_dataset(tmp_path / "b", count=4, seed=3, width=96, height=96, workers=2)
    assert one["annotations"] == two["annotations"]


def test_contact_sheet_is_a_grid() -> None:
    sheet = contact_sheet(seed=0, count=6, width=64, height=48, cols=3)
    assert sheet.shape == (96, 192, 3)


def test_view_weights_choose_the_views() -> None:
    upright = tuple(k for k in P.POSE_KINDS if k != "lying")
    only_front = SynthConfig(min_people=6, max_people=6, view_weights=(1.0, 0.0, 0.0),
                             kinds=upright)  # fmt: skip
    only_back = SynthConfig(min_people=6, max_people=6, view_weights=(0.0, 1.0, 0.0),
                            kinds=upright)  # fmt: skip
    for seed in range(4):
        front = generate_scene(np.random.default_rng(seed), 320, 240, only_front)
        back = generate_scene(np.random.default_rng(seed), 320, 240, only_back)
        assert set(front.views) <= {"front"} and set(back.views) <= {"back"}
        assert len(front.views) > 0 and len(back.views) > 0


def test_views_flag_is_checked() -> None:
    from service.data.command import _weights

    assert _weights("0.65,0.2,0.15") == (0.65, 0.2, 0.15)
    for bad in ("1,2", "a,b,c", "-1,1,1", "0,0,0"):
        with pytest.raises(SystemExit, match="--views"):
            _weights(bad)
