"""Forward kinematics: joint angles + body shape -> 3-D solid primitives for every frame.

Coordinates are the walker's own: x forward, y to the walker's left, z up, metres, the lowest
point of the feet on the ground (z = 0). The body is a union of solids: tapered capsules for
limbs, neck and shoulders; ellipsoids for head, chest and pelvis; convex hulls (bags, coat) are
added by `covariates`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gaitreid.synth.body import BodyShape
from gaitreid.synth.gait import GaitStyle, JointAngles


@dataclass(frozen=True)
class Capsule:
    """Segment a[T,3]..b[T,3] swept by a sphere whose radius goes from ra to rb."""

    name: str
    a: np.ndarray
    b: np.ndarray
    ra: float
    rb: float
    cap_a: bool = True  # draw the end disc at a (False where another solid already covers it)
    cap_b: bool = True


@dataclass(frozen=True)
class Ellipsoid:
    """Solid ellipsoid: center[T,3] + axes[T,3,3] whose columns are the three semi-axis vectors."""

    name: str
    center: np.ndarray
    axes: np.ndarray


@dataclass(frozen=True)
class Hull:
    """Convex hull of points[T,n,3] (bags, coat skirt)."""

    name: str
    points: np.ndarray


Primitive = Capsule | Ellipsoid | Hull


def rot_z(angle: np.ndarray) -> np.ndarray:
    """[T,3,3] rotations about the vertical axis."""
    c, s = np.cos(angle), np.sin(angle)
    o, i = np.zeros_like(angle), np.ones_like(angle)
    return np.stack([np.stack([c, -s, o], -1), np.stack([s, c, o], -1), np.stack([o, o, i], -1)], -2)


def rot_x(angle: np.ndarray) -> np.ndarray:
    """[T,3,3] rotations about the walking direction (+ tips the top towards the right)."""
    c, s = np.cos(angle), np.sin(angle)
    o, i = np.zeros_like(angle), np.ones_like(angle)
    return np.stack([np.stack([i, o, o], -1), np.stack([o, c, -s], -1), np.stack([o, s, c], -1)], -2)


def rot_y(angle: np.ndarray) -> np.ndarray:
    """[T,3,3] rotations about the walker's left axis (+ tips the top forward)."""
    c, s = np.cos(angle), np.sin(angle)
    o, i = np.zeros_like(angle), np.ones_like(angle)
    return np.stack([np.stack([c, o, s], -1), np.stack([o, i, o], -1), np.stack([-s, o, c], -1)], -2)


def _apply(rotation: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """rotation[T,3,3] @ vector[3] or vector[T,3] -> [T,3]."""
    if vector.ndim == 1:
        return rotation @ vector
    return np.einsum("tij,tj->ti", rotation, vector)


def _sagittal(angle: np.ndarray, abduction: float, side: float) -> np.ndarray:
    """Unit vectors [T,3] hanging down, swung forward by `angle`, out sideways by `abduction`."""
    ca = np.cos(abduction)
    return np.stack([np.sin(angle) * ca, np.full_like(angle, side * np.sin(abduction)), -np.cos(angle) * ca], -1)


@dataclass(frozen=True)
class Skeleton:
    """Joint positions [T,3] (metres, walker frame) and the thorax orientation [T,3,3]."""

    joints: dict[str, np.ndarray]
    thorax: np.ndarray
    pelvis: np.ndarray

    def __getitem__(self, name: str) -> np.ndarray:
        return self.joints[name]


def pose_skeleton(body: BodyShape, angles: JointAngles, style: GaitStyle, extra_arm_abduction: float = 0.0) -> Skeleton:
    """Joint positions for every frame; the feet are put on the ground afterwards.

    `style` gives the posture (trunk lean and roll, head pitch, how far arms and legs are held
    out); `extra_arm_abduction` (degrees) pushes the arms out further (a thick coat).
    """
    H = body.stature
    t = angles.hip_r.size
    pelvis_rot = rot_z(angles.pelvis_yaw)
    lean_deg, head_pitch_deg = style.trunk_lean, style.head_pitch
    lean = np.full(t, np.deg2rad(lean_deg))
    # roll: rot_x(+) tips the top to the walker's right, trunk_roll + means to the left
    thorax = rot_z(angles.thorax_yaw) @ rot_y(lean) @ rot_x(np.full(t, -np.deg2rad(style.trunk_roll)))
    leg_abd = np.deg2rad(style.leg_abduction)
    arm_abd_deg = style.arm_abduction + extra_arm_abduction
    arm_abd_side = {"r": np.deg2rad(max(0.0, arm_abd_deg - style.arm_abduction_asym / 2)),
                    "l": np.deg2rad(max(0.0, arm_abd_deg + style.arm_abduction_asym / 2))}

    j: dict[str, np.ndarray] = {}
    pelvis = np.zeros((t, 3))
    pelvis[:, 1] = angles.sway * H
    j["pelvis"] = pelvis
    for side, s in (("r", -1.0), ("l", 1.0)):
        hip_a, knee_a, ankle_a = (getattr(angles, f"{n}_{side}") for n in ("hip", "knee", "ankle"))
        hip = pelvis + _apply(pelvis_rot, np.array([0.0, s * body.hip_width * H, 0.0]))
        knee = hip + body.thigh * H * _sagittal(hip_a, leg_abd, s)
        shank_angle = hip_a - knee_a
        ankle = knee + body.shank * H * _sagittal(shank_angle, leg_abd * 0.5, s)
        foot_angle = shank_angle + ankle_a
        forward = np.stack([np.cos(foot_angle), np.zeros(t), np.sin(foot_angle)], -1)
        down = np.stack([np.sin(foot_angle), np.zeros(t), -np.cos(foot_angle)], -1)
        j[f"hip_{side}"], j[f"knee_{side}"], j[f"ankle_{side}"] = hip, knee, ankle
        j[f"heel_{side}"] = ankle - body.heel * H * forward + 0.022 * H * down
        j[f"toe_{side}"] = ankle + body.foot * H * forward + 0.030 * H * down

    # Trunk: pelvis ellipsoid just above the hip joints, chest above, shoulders at the top.
    j["waist"] = pelvis + _apply(thorax @ rot_y(-lean * 0.5), np.array([body.belly * H, 0.0, 0.02 * H]))
    trunk_up = 0.288 * H
    j["chest"] = pelvis + _apply(thorax, np.array([0.0, 0.0, trunk_up - 0.110 * H]))
    for side, s in (("r", -1.0), ("l", 1.0)):
        shoulder = pelvis + _apply(thorax, np.array([-0.005 * H, s * body.shoulder_width * H, trunk_up - 0.012 * H]))
        sh_a, el_a = getattr(angles, f"shoulder_{side}"), getattr(angles, f"elbow_{side}")
        arm_abd = arm_abd_side[side]
        elbow = shoulder + body.upper_arm * H * _sagittal(sh_a, arm_abd, s)
        wrist = elbow + body.forearm * H * _sagittal(sh_a + el_a, arm_abd * 0.6, s)
        hand = wrist + body.hand * H * _sagittal(sh_a + el_a * 1.1, arm_abd * 0.6, s)
        j[f"shoulder_{side}"], j[f"elbow_{side}"], j[f"wrist_{side}"], j[f"hand_{side}"] = shoulder, elbow, wrist, hand
    j["neck_base"] = pelvis + _apply(thorax, np.array([0.0, 0.0, trunk_up + 0.005 * H]))
    head_tilt = thorax @ rot_y(np.full(t, np.deg2rad(head_pitch_deg)) - lean)
    j["neck_top"] = j["neck_base"] + _apply(head_tilt, np.array([0.004 * H, 0.0, body.neck_length * H]))
    j["head"] = j["neck_top"] + _apply(head_tilt, np.array([0.012 * H, 0.0, 0.45 * body.head_height * H]))

    # Put the lowest foot point on the ground: the stance leg then carries the pelvis, which
    # gives the vertical bounce of walking without a separate model.
    feet = np.stack([j[f"{p}_{s}"][:, 2] for p in ("heel", "toe") for s in ("r", "l")], 1)
    ground = feet.min(1) - 0.018 * H
    for name in j:
        j[name] = j[name] - np.stack([np.zeros(t), np.zeros(t), ground], -1)
    return Skeleton(joints=j, thorax=thorax, pelvis=pelvis_rot @ rot_y(lean * 0.5))


def ellipsoid_axes(rotation: np.ndarray, radii: tuple[float, float, float]) -> np.ndarray:
    """Semi-axis vectors as columns: rotation[T,3,3] @ diag(radii) -> [T,3,3]."""
    return rotation * np.asarray(radii)[None, None, :]


def body_primitives(body: BodyShape, sk: Skeleton, sleeve: float = 1.0) -> list[Primitive]:
    """The naked body's solids; `sleeve` > 1 thickens the arms (coats)."""
    H = body.stature
    ar, tr = body.arm_radius * H, body.thigh_radius * H
    prims: list[Primitive] = [
        Ellipsoid("head", sk["head"], ellipsoid_axes(sk.thorax, (body.head_depth * H, body.head_width * H, body.head_height * H / 2))),
        Capsule("neck", sk["neck_base"] - np.array([0, 0, 0.03 * H]), sk["neck_top"], 0.028 * H, 0.024 * H, False, False),
        Ellipsoid("chest", sk["chest"], ellipsoid_axes(sk.thorax, (body.chest_depth * H, body.chest_width * H, body.chest_height * H))),
        Ellipsoid("pelvis", sk["waist"], ellipsoid_axes(sk.pelvis, (body.waist_depth * H, body.waist_width * H, body.pelvis_height * H))),
        # fills the waist where the chest and pelvis ellipsoids narrow towards each other
        Capsule("trunk", sk["chest"], sk["waist"], body.chest_depth * H * 0.95, body.waist_depth * H * 0.95,
                False, False),
        Capsule("shoulders", sk["shoulder_r"], sk["shoulder_l"], ar * 1.05, ar * 1.05),
    ]
    for s in ("r", "l"):
        prims += [
            Capsule(f"thigh_{s}", sk[f"hip_{s}"], sk[f"knee_{s}"], tr, tr * 0.68),
            Capsule(f"shank_{s}", sk[f"knee_{s}"], sk[f"ankle_{s}"], tr * 0.66, tr * 0.42, cap_a=False),
            Capsule(f"foot_{s}", sk[f"heel_{s}"], sk[f"toe_{s}"], 0.017 * H, 0.012 * H),
            Capsule(f"upper_arm_{s}", sk[f"shoulder_{s}"], sk[f"elbow_{s}"], ar * sleeve, ar * 0.82 * sleeve, cap_a=False),
            Capsule(f"forearm_{s}", sk[f"elbow_{s}"], sk[f"hand_{s}"], ar * 0.80 * sleeve, ar * 0.52, cap_a=False),
        ]
    return prims
