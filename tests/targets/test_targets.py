"""Eq. 1-4 checked numerically on hand-placed joints."""

import math

import numpy as np
import pytest

from service.skeleton import AIC14
from service.targets import TargetConfig, encode, grid_to_image, image_to_grid, map_size

NECK, HEAD, R_SHO = 13, 12, 0
CFG = TargetConfig(stride=4, sigma=8.0, delta=6.0)


def person(**joints: tuple[float, float]) -> np.ndarray:
    kp = np.zeros((AIC14.num_joints, 3))
    for name, (x, y) in joints.items():
        kp[AIC14.joint(name)] = (x, y, 2)
    return kp


def on_grid(i: int, j: int, stride: int = 4) -> tuple[float, float]:
    """Image coordinates of the centre of cell (row i, col j)."""
    return float(grid_to_image(j, stride)), float(grid_to_image(i, stride))


def test_grid_conversion_round_trip():
    assert image_to_grid(grid_to_image(7.25, 4), 4) == pytest.approx(7.25)
    assert map_size(101, 99, 4) == (26, 25)


def test_peak_is_one_and_exp_minus_one_at_sigma():
    x, y = on_grid(10, 12)
    t = encode(person(neck=(x, y))[None], AIC14, 96, 96, CFG)
    assert t.maps[NECK, 10, 12] == pytest.approx(1.0)
    # Two cells to the right = 8 px = sigma: exp(-d^2 / sigma^2) = exp(-1) (Eq. 1).
    assert t.maps[NECK, 10, 14] == pytest.approx(math.exp(-1), rel=1e-5)
    assert t.maps[NECK, 11, 13] == pytest.approx(math.exp(-(32) / 64), rel=1e-5)
    # Background is 1 - max over joints.
    assert t.maps[-1, 10, 12] == pytest.approx(0.0)
    assert t.maps[-1, 0, 0] == pytest.approx(1.0 - t.maps[:-1, 0, 0].max())


def test_max_rule_with_two_people():
    a, b = on_grid(10, 10), on_grid(10, 13)
    t = encode(np.stack([person(neck=a), person(neck=b)]), AIC14, 96, 96, CFG)
    # Between them (cell 11, 3 px from b's... ) the value is the max of the two Gaussians, not sum.
    for j in range(9, 15):
        xj, _ = on_grid(10, j)
        ga = math.exp(-((xj - a[0]) ** 2) / 64)
        gb = math.exp(-((xj - b[0]) ** 2) / 64)
        assert t.maps[NECK, 10, j] == pytest.approx(max(ga, gb), rel=1e-5)
    assert t.maps[NECK].max() == pytest.approx(1.0)


def test_field_band_membership_and_unit_vectors():
    # Horizontal limb neck -> head_top along row 10, from col 5 to col 15.
    x0, y0 = on_grid(10, 5)
    x1, _ = on_grid(10, 15)
    t = encode(person(neck=(x0, y0), head_top=(x1, y0))[None], AIC14, 96, 96, CFG)
    fx, fy = t.fields[0], t.fields[1]  # limb 0 = neck -> head_top
    assert fx[10, 5:16] == pytest.approx(np.ones(11))
    assert np.all(fy == 0)
    # delta = 6 px: rows 9 and 11 (4 px away) are inside, rows 8 and 12 (8 px) outside.
    assert fx[9, 10] == 1 and fx[11, 10] == 1
    assert fx[8, 10] == 0 and fx[12, 10] == 0
    # Beyond the segment's ends: outside the rectangle.
    assert fx[10, 4] == 0 and fx[10, 16] == 0
    # Other limbs untouched.
    assert np.all(t.fields[2:] == 0)


def test_band_edge_exactly_delta():
    cfg = TargetConfig(stride=4, sigma=8.0, delta=4.0)
    x0, y0 = on_grid(10, 5)
    x1, _ = on_grid(10, 15)
    t = encode(person(neck=(x0, y0), head_top=(x1, y0))[None], AIC14, 96, 96, cfg)
    assert t.fields[0, 9, 10] == 1  # distance exactly delta: inside (<=)
    cfg2 = TargetConfig(stride=4, sigma=8.0, delta=3.99)
    t2 = encode(person(neck=(x0, y0), head_top=(x1, y0))[None], AIC14, 96, 96, cfg2)
    assert t2.fields[0, 9, 10] == 0


def test_overlapping_limbs_are_averaged():
    # Two people's neck->head limbs cross at cell (10, 10): one horizontal, one vertical.
    h0, h1 = on_grid(10, 5), on_grid(10, 15)
    v0, v1 = on_grid(5, 10), on_grid(15, 10)
    people = np.stack([person(neck=h0, head_top=h1), person(neck=v0, head_top=v1)])
    t = encode(people, AIC14, 96, 96, CFG)
    assert t.fields[0, 10, 10] == pytest.approx(0.5)  # (1 + 0) / 2
    assert t.fields[1, 10, 10] == pytest.approx(0.5)  # (0 + 1) / 2
    assert t.fields[0, 10, 6] == pytest.approx(1.0)  # only the horizontal limb here
    assert t.fields[1, 6, 10] == pytest.approx(1.0)


def test_unlabelled_and_outside_joints_leave_no_trace():
    kp = person(neck=(40, 40), head_top=(40, 10), right_shoulder=(-5, 40))
    kp[AIC14.joint("head_top"), 2] = 0  # unlabelled
    t = encode(kp[None], AIC14, 96, 96, CFG)
    assert np.all(t.maps[HEAD] == 0)
    assert np.all(t.maps[R_SHO] == 0)  # outside the image
    assert np.all(t.fields == 0)  # both limbs from the neck lack an end
    assert t.maps[NECK].max() > 0.9


def test_mask_zeroes_ignored_regions():
    ignore = np.zeros((96, 96), bool)
    ignore[0:48, 0:48] = True
    t = encode(np.zeros((0, 14, 3)), AIC14, 96, 96, CFG, ignore=ignore)
    assert t.mask.shape == (24, 24)
    assert np.all(t.mask[:12, :12] == 0) and np.all(t.mask[12:, :] == 1)
    assert np.all(t.maps[:-1] == 0) and np.all(t.maps[-1] == 1)


def test_relative_sigma_follows_person_size():
    # sigma = relative_sigma x sqrt(span area), clipped to [sigma/2, 2 sigma].
    cfg = TargetConfig(stride=4, sigma=6.0, delta=4.0, relative_sigma=0.1)
    x, y = on_grid(10, 10)
    big = person(neck=(x, y), right_ankle=(x + 40, y + 160))  # size 80 -> sigma 8
    small = person(neck=(x, y), right_ankle=(x + 4, y + 16))  # size 8 -> 0.8, clipped to 3
    for kp, sigma in ((big, 8.0), (small, 3.0)):
        t = encode(kp[None], AIC14, 200, 200, cfg)
        assert t.maps[NECK, 10, 10] == pytest.approx(1.0)
        assert t.maps[NECK, 10, 12] == pytest.approx(math.exp(-64 / sigma**2), rel=1e-5)
