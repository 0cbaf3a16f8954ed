"""Random body + pose -> 2.5D joint positions in the image (AIC-14 order) and a depth per point.

The body is posed in its own upright frame (x = the person's left, y = down, z = the person's
forward), each segment's direction set by absolute angles (flexion towards z, abduction away
from the body's midline). A yaw about the vertical axis gives the view: yaw 0 faces the camera
(the person's right side is on the image's left), yaw 180 is a back view (right side on the
image's right), +-90 a side view. The labels are anatomical, so a back view swaps which side is
on the image's left by construction. Projection is orthographic; depth orders the drawing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from service.skeleton import AIC14

J = AIC14.num_joints
R_SHO, R_ELB, R_WRI, L_SHO, L_ELB, L_WRI = 0, 1, 2, 3, 4, 5
R_HIP, R_KNE, R_ANK, L_HIP, L_KNE, L_ANK, HEAD, NECK = 6, 7, 8, 9, 10, 11, 12, 13

# Extra points (not joints) the drawing needs, stored after the 14 joints.
PELVIS, HEAD_BASE, R_HAND, L_HAND, R_TOE, L_TOE, R_HEEL, L_HEEL = range(J, J + 8)
NUM_POINTS = J + 8

POSE_KINDS = (
    "standing", "walking", "running", "sitting", "crouching", "arms_raised",
    "arms_crossed", "reaching", "bent_over", "lying", "random",
)  # fmt: skip
VIEWS = ("front", "back", "side")


@dataclass(frozen=True)
class Body:
    """Proportions as fractions of the standing height, and a width factor."""

    head: float  # head_top to chin
    neck: float
    torso: float  # neck to pelvis centre
    shoulder: float  # half width
    hip: float  # half width
    upper_arm: float
    forearm: float
    hand: float
    thigh: float
    shin: float
    foot: float
    width: float  # limb thickness factor (thin 0.75 .. broad 1.4)
    chest: float  # torso half depth


@dataclass
class PosedPerson:
    points: np.ndarray  # (NUM_POINTS, 2) image pixels
    depth: np.ndarray  # (NUM_POINTS,) larger = farther from the camera, in pixels
    body: Body
    height: float  # standing height in pixels
    yaw: float  # degrees; 0 = facing the camera
    kind: str
    view: str
    forward: np.ndarray  # (2,) image projection of the person's unit forward axis


def random_body(rng: np.random.Generator) -> Body:
    g = lambda base, spread: base * (1 + spread * rng.uniform(-1, 1))  # noqa: E731
    child = rng.random() < 0.12
    return Body(
        head=g(0.16 if child else 0.13, 0.08), neck=g(0.035, 0.2), torso=g(0.30, 0.07),
        shoulder=g(0.105, 0.12), hip=g(0.07, 0.15), upper_arm=g(0.17, 0.07),
        forearm=g(0.15, 0.07), hand=g(0.075, 0.1), thigh=g(0.24, 0.07), shin=g(0.23, 0.07),
        foot=g(0.12, 0.1), width=float(rng.uniform(0.75, 1.4)), chest=g(0.065, 0.2),
    )


def direction(flex: float, abd: float, side: float) -> np.ndarray:
    """Unit vector from a 'hanging down' segment: flexion towards forward, abduction outwards."""
    f, a = np.radians(flex), np.radians(abd)
    return np.array([side * np.cos(f) * np.sin(a), np.cos(f) * np.cos(a), np.sin(f)])


Angles = dict[str, float]
U = Callable[[float, float], float]


def _standing(u: U) -> Angles:
    return dict(ua=u(-10, 15), ua_a=u(4, 18), fa=u(0, 35), fa_a=u(0, 15), th=u(-6, 6),
                th_a=u(0, 8), sh=u(-8, 0), sh_a=u(0, 6), torso=u(-6, 4))


def _walking(u: U, amp: float = 28.0, knee: float = 25.0) -> Angles:
    phase = u(-1, 1)
    a = dict(_standing(u))
    a.update(ua=-amp * 0.7 * phase, ua_l=amp * 0.7 * phase, fa=-amp * 0.5 * phase + u(5, 30),
             fa_l=amp * 0.5 * phase + u(5, 30), th=amp * phase, th_l=-amp * phase)
    a.update(sh=a["th"] - knee * u(0.2, 1), sh_l=a["th_l"] - knee * u(0.2, 1))
    return a


def _running(u: U) -> Angles:
    a = _walking(u, amp=u(35, 55), knee=u(50, 100))
    a.update(fa=a["ua"] + u(70, 110), fa_l=a["ua_l"] + u(70, 110), torso=u(-18, -5))
    return a


def _sitting(u: U) -> Angles:
    a = _standing(u)
    th = u(70, 100)
    a.update(th=th, th_l=th + u(-10, 10), sh=th - u(70, 110), sh_l=th - u(70, 110),
             ua=u(10, 35), fa=u(50, 90), fa_l=u(50, 90), torso=u(-15, 5))
    return a


def _crouching(u: U) -> Angles:
    a = _standing(u)
    th = u(95, 135)
    a.update(th=th, th_l=th + u(-15, 15), sh=th - u(120, 150), sh_l=th - u(120, 150),
             th_a=u(5, 25), ua=u(20, 60), fa=u(40, 90), fa_l=u(40, 90), torso=u(-40, -15))
    return a


def _arms_raised(u: U) -> Angles:
    a = _standing(u)
    if u(0, 1) < 0.5:  # over the head
        a.update(ua=u(140, 180), ua_l=u(140, 180), ua_a=u(0, 20), fa=u(150, 190), fa_a=u(0, 20))
    else:  # out to the sides and up
        a.update(ua=u(-10, 20), ua_a=u(80, 160), fa=u(-10, 40), fa_a=u(90, 175))
    if u(0, 1) < 0.35:  # only one arm
        a.update(ua_l=u(-10, 10), ua_a_l=u(5, 15), fa_l=u(0, 30), fa_a_l=u(0, 15))
    return a


def _arms_crossed(u: U) -> Angles:
    a = _standing(u)
    a.update(ua=u(5, 25), ua_a=u(-5, 10), fa=u(25, 60), fa_a=u(-100, -70), fa_a_l=u(-100, -70))
    return a


def _reaching(u: U) -> Angles:
    a = _walking(u, amp=15)
    a.update(ua=u(50, 110), ua_a=u(-10, 60), fa=u(50, 110), fa_a=u(-10, 60), torso=u(-25, 0))
    if u(0, 1) < 0.4:
        a.update(ua_l=u(50, 110), fa_l=u(50, 110))
    return a


def _bent_over(u: U) -> Angles:
    a = _standing(u)
    a.update(torso=u(-95, -50), ua=u(-10, 40), ua_l=u(-10, 40), fa=u(-10, 50), fa_l=u(-10, 50),
             th=u(-10, 15), sh=u(-15, 0), sh_l=u(-15, 0))
    return a


def _random(u: U) -> Angles:
    names = ("ua", "ua_l", "fa", "fa_l", "th", "th_l")
    a = {n: u(-40, 170) if n[0] != "t" else u(-30, 100) for n in names}
    a.update(ua_a=u(-20, 120), ua_a_l=u(-20, 120), fa_a=u(-60, 140), fa_a_l=u(-60, 140),
             th_a=u(-10, 35), th_a_l=u(-10, 35), sh=a["th"] - u(0, 130),
             sh_l=a["th_l"] - u(0, 130), torso=u(-45, 15))
    return a


POSES: dict[str, Callable[[U], Angles]] = {
    "standing": _standing, "walking": _walking, "running": _running, "sitting": _sitting,
    "crouching": _crouching, "arms_raised": _arms_raised, "arms_crossed": _arms_crossed,
    "reaching": _reaching, "bent_over": _bent_over, "lying": _standing, "random": _random,
}  # fmt: skip


def _side(a: Angles, name: str, left: bool, u: U, jitter: float) -> float:
    """The angle for one side: `name_l` for the left if given, else the shared one + jitter."""
    value = a.get(f"{name}_l", a.get(name, 0.0)) if left else a.get(name, 0.0)
    return value + u(-jitter, jitter)


_LEFT = (L_SHO, L_ELB, L_WRI, L_HAND, L_HIP, L_KNE, L_ANK, L_TOE, L_HEEL)
_RIGHT = (R_SHO, R_ELB, R_WRI, R_HAND, R_HIP, R_KNE, R_ANK, R_TOE, R_HEEL)


def _chain(a: Angles, b: Body, u: U) -> np.ndarray:
    """Angles -> (NUM_POINTS, 3) body-frame points, unit = standing height, neck at the origin."""
    p = np.zeros((NUM_POINTS, 3))
    torso = direction(a.get("torso", 0.0), u(-6, 6), 1.0)  # neck -> pelvis
    twist = np.radians(u(-15, 15))
    lat = np.array([np.cos(twist), 0.0, np.sin(twist)])
    lat = lat - lat.dot(torso) * torso
    lat /= np.linalg.norm(lat)
    p[PELVIS] = b.torso * torso
    head_up = -direction(u(-20, 20), u(-12, 12), 1.0)
    p[HEAD_BASE] = b.neck * head_up
    p[HEAD] = p[HEAD_BASE] + b.head * head_up
    hip_lat = np.array([1.0, 0.0, 0.0]) - torso[0] * torso
    hip_lat /= np.linalg.norm(hip_lat)
    for left in (False, True):
        s = 1.0 if left else -1.0
        sho, elb, wri, hand, hip, kne, ank, toe, heel = _LEFT if left else _RIGHT
        p[sho] = s * b.shoulder * lat + 0.02 * torso
        p[elb] = p[sho] + b.upper_arm * direction(
            _side(a, "ua", left, u, 8), _side(a, "ua_a", left, u, 5), s)
        fa = direction(_side(a, "fa", left, u, 8), _side(a, "fa_a", left, u, 5), s)
        p[wri] = p[elb] + b.forearm * fa
        p[hand] = p[wri] + b.hand * fa
        p[hip] = p[PELVIS] + s * b.hip * hip_lat
        p[kne] = p[hip] + b.thigh * direction(
            _side(a, "th", left, u, 5), _side(a, "th_a", left, u, 3), s)
        shin = direction(_side(a, "sh", left, u, 5), _side(a, "sh_a", left, u, 3), s)
        p[ank] = p[kne] + b.shin * shin
        foot = np.array([s * 0.25, 0.15, 1.0])
        p[toe] = p[ank] + b.foot * 0.8 * foot / np.linalg.norm(foot) + 0.3 * b.foot * shin
        p[heel] = p[ank] - 0.25 * b.foot * np.array([0.0, -0.3, 1.0]) + 0.3 * b.foot * shin
    return p


VIEW_WEIGHTS = (0.45, 0.25, 0.30)  # front, back, side


def random_view(
    rng: np.random.Generator, weights: tuple[float, ...] = VIEW_WEIGHTS
) -> tuple[str, float]:
    p = np.asarray(weights, np.float64)
    view = VIEWS[int(rng.choice(3, p=p / p.sum()))]
    if view == "front":
        return view, float(rng.uniform(-35, 35))
    if view == "back":
        return view, float(rng.uniform(145, 215))
    return view, float(rng.choice([-1, 1]) * rng.uniform(60, 120))


def pose_person(
    rng: np.random.Generator, height: float, kind: str | None = None,
    view: tuple[str, float] | None = None, view_weights: tuple[float, ...] = VIEW_WEIGHTS,
) -> PosedPerson:
    """A posed body, `height` px tall when standing, its feet's midpoint near the origin."""
    kind = kind or POSE_KINDS[int(rng.integers(len(POSE_KINDS)))]
    body = random_body(rng)
    u: U = lambda lo, hi: float(rng.uniform(lo, hi))  # noqa: E731
    pts = _chain(POSES[kind](u), body, u) * height  # (P, 3) body frame
    view_name, yaw = view or random_view(rng, view_weights)
    t = np.radians(yaw)
    # Body (left, down, forward) -> image (x, y) and depth; yaw 0 = facing the camera.
    x = pts[:, 0] * np.cos(t) + pts[:, 2] * np.sin(t)
    depth = pts[:, 0] * np.sin(t) - pts[:, 2] * np.cos(t)
    xy = np.stack([x, pts[:, 1]], axis=1)
    roll = float(rng.uniform(-8, 8))
    if kind == "lying":
        roll += float(rng.choice([-1, 1]) * rng.uniform(70, 105))
    xy = _rotate(xy, roll, xy[PELVIS])
    xy -= np.array([xy[PELVIS, 0], xy[:, 1].max()])  # ground contact at y = 0
    forward = _rotate(np.array([[np.sin(t), 0.0]]), roll, np.zeros(2))[0]
    return PosedPerson(xy, depth, body, height, yaw, kind, view_name, forward)


@dataclass(frozen=True)
class HeadFrame:
    """The drawn head in image pixels: an ellipse from the head's base to head_top."""

    centre: np.ndarray  # (2,)
    up: np.ndarray  # (2,) unit vector, base -> top
    lateral: np.ndarray  # (2,) `up` turned 90 degrees: the person's left, seen from the front
    length: float  # base to top, pixels
    half_width: float
    facing: float  # cos(yaw): > 0 the face is towards the camera
    forward: np.ndarray  # (2,) the person's forward axis in the image, |.| = |sin(yaw)|


def head_frame(points: np.ndarray, person: PosedPerson) -> HeadFrame:
    """(NUM_POINTS, 2) points (image or crop pixels) of `person` -> its head's frame."""
    top, base = points[HEAD], points[HEAD_BASE]
    axis = top - base
    length = float(np.linalg.norm(axis)) + 1e-6
    up = axis / length
    half = length / 2
    half_w = half * 0.78 * (0.9 + 0.1 * person.body.width)
    return HeadFrame(base + axis / 2, up, np.array([-up[1], up[0]]), length, half_w,
                     float(np.cos(np.radians(person.yaw))), person.forward)  # fmt: skip


def _rotate(xy: np.ndarray, degrees: float, centre: np.ndarray) -> np.ndarray:
    t = np.radians(degrees)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return (xy - centre) @ rot.T + centre
