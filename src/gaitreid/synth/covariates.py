"""Clothing and carrying conditions: bags (CASIA-B `bg`) and coats (`cl`).

A bag is a rounded box attached to the body: a backpack behind the chest, a shoulder bag at
the hip (with its strap across the chest), or a bag held in one hand (that arm then hangs
straighter and swings less). A coat widens chest and waist, thickens the sleeves and adds a
skirt from the waist to somewhere on the thighs that follows the legs. Sizes are in metres and
drawn per sequence, so `bg-01`/`bg-02` and `cl-01`/`cl-02` differ like two real recordings.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from gaitreid.synth.body import BodyShape
from gaitreid.synth.gait import GaitStyle
from gaitreid.synth.skeleton import Capsule, Hull, Primitive, Skeleton, rot_z

BAG_KINDS = ("backpack", "shoulder", "hand")


@dataclass(frozen=True)
class Bag:
    kind: str  # one of BAG_KINDS
    side: str  # "r" or "l": the hand that holds it / the hip it hangs at
    size: tuple[float, float, float]  # full extent: front-back, side-side, top-bottom (metres)
    swing: float  # how far it swings with the walk (radians)


@dataclass(frozen=True)
class Coat:
    widen: float  # chest and waist width factor
    sleeve: float  # arm radius factor
    hem: float  # where the skirt ends along the thigh: 0 = hip, 1 = knee (beyond: below the knee)
    flare: float  # skirt radius around each thigh at the hem, in thigh radii


def draw_bag(rng: np.random.Generator) -> Bag:
    kind = BAG_KINDS[int(rng.integers(len(BAG_KINDS)))]
    side = "r" if rng.random() < 0.5 else "l"
    u = rng.uniform
    if kind == "backpack":
        size = (u(0.10, 0.24), u(0.26, 0.38), u(0.32, 0.50))
    elif kind == "shoulder":
        size = (u(0.22, 0.40), u(0.06, 0.14), u(0.18, 0.32))
    else:
        size = (u(0.22, 0.45), u(0.06, 0.14), u(0.18, 0.36))
    return Bag(kind=kind, side=side, size=size, swing=float(u(0.05, 0.25)))


def draw_coat(rng: np.random.Generator) -> Coat:
    return Coat(
        widen=float(rng.uniform(1.1, 1.4)),
        sleeve=float(rng.uniform(1.15, 1.5)),
        hem=float(rng.uniform(0.35, 1.25)),
        flare=float(rng.uniform(1.4, 2.1)),
    )


def adjust_gait_for_bag(style: GaitStyle, bag: Bag | None) -> GaitStyle:
    """Holding a bag: the arm on that side swings much less (the other arm keeps its swing)."""
    if bag is None or bag.kind != "hand":
        return style
    if bag.side == "r":  # `arm_swing` is the right arm's; `arm_ratio` scales the left arm by it
        return replace(style, arm_swing=style.arm_swing * 0.25, arm_ratio=style.arm_ratio * 4.0)
    return replace(style, arm_ratio=style.arm_ratio * 0.25)


def adjust_body_for_coat(body: BodyShape, coat: Coat | None) -> BodyShape:
    if coat is None:
        return body
    w = coat.widen
    return body.scaled({"chest_width": w, "chest_depth": w * 1.05, "waist_width": w * 1.05,
                        "waist_depth": w * 1.1, "shoulder_width": 1.0 + (w - 1.0) * 0.3})


def _box_points(center: np.ndarray, rotation: np.ndarray, size: tuple[float, float, float]) -> np.ndarray:
    """Corners and bulging face centres of a rounded box: [T,14,3]."""
    half = np.asarray(size) / 2.0
    corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=float) * 0.92
    faces = np.concatenate([np.eye(3), -np.eye(3)]) * 1.0
    local = np.concatenate([corners, faces]) * half  # [14,3]
    return center[:, None, :] + np.einsum("tij,nj->tni", rotation, local)


def bag_primitives(bag: Bag, body: BodyShape, sk: Skeleton, phase: np.ndarray) -> list[Primitive]:
    H = body.stature
    s = -1.0 if bag.side == "r" else 1.0
    depth, width, height = bag.size
    swing = bag.swing * np.sin(2 * np.pi * phase * 2.0)  # bags bounce at step frequency
    if bag.kind == "backpack":
        offset = np.array([-(body.chest_depth * H + depth / 2), 0.0, -0.03 * H])
        center = sk["chest"] + np.einsum("tij,j->ti", sk.thorax, offset)
        return [Hull("bag", _box_points(center, sk.thorax, (depth, width, height)))]
    if bag.kind == "shoulder":
        hip = sk[f"hip_{bag.side}"]
        offset = np.array([0.02 * H, s * (body.waist_width * H + width / 2), 0.03 * H + height * 0.2])
        rotation = sk.pelvis @ rot_z(swing * 0.5)
        center = hip + np.einsum("tij,j->ti", rotation, offset)
        top = center + np.array([0.0, 0.0, height / 2])
        strap = Capsule("bag_strap", sk["shoulder_r" if bag.side == "l" else "shoulder_l"], top, 0.012, 0.012)
        return [strap, Hull("bag", _box_points(center, rotation, (depth, width, height)))]
    # hand-held: hangs below the hand, swinging a little about the hand
    center = sk[f"hand_{bag.side}"] + np.stack([np.sin(swing) * height / 2, np.full_like(swing, s * 0.02),
                                                -np.cos(swing) * height / 2], -1)
    return [Hull("bag", _box_points(center, rot_z(swing * 0.3), (depth, width, height)))]


def coat_primitives(coat: Coat, body: BodyShape, sk: Skeleton) -> list[Primitive]:
    """The coat's skirt: one convex hull around the waist and both thighs down to the hem."""
    H = body.stature
    ring = np.linspace(0, 2 * np.pi, 10, endpoint=False)
    waist = np.stack([np.cos(ring) * body.waist_depth * H * 1.15, np.sin(ring) * body.waist_width * H * 1.1,
                      np.zeros_like(ring)], -1)
    points = [sk["waist"][:, None, :] + np.einsum("tij,nj->tni", sk.pelvis, waist)]
    for side in ("r", "l"):
        hip, knee, ankle = sk[f"hip_{side}"], sk[f"knee_{side}"], sk[f"ankle_{side}"]
        if coat.hem <= 1.0:
            hem = hip + (knee - hip) * coat.hem
        else:
            hem = knee + (ankle - knee) * (coat.hem - 1.0)
        radius = body.thigh_radius * H * coat.flare * (1.0 - 0.3 * min(coat.hem, 1.0))
        circle = np.stack([np.cos(ring) * radius, np.sin(ring) * radius, np.zeros_like(ring)], -1)
        points.append(hem[:, None, :] + circle[None])
    return [Hull("coat", np.concatenate(points, 1))]
