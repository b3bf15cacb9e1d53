"""Body shape of a synthetic walker: segment lengths and widths drawn with a human spread.

Lengths are fractions of stature (anthropometric tables put e.g. the hip joint near 0.53 H,
the knee near 0.285 H, the shoulder width near 0.26 H). Each subject draws its own fractions
with a spread of a few percent, plus a build factor (slim .. heavy) that scales widths and a
sex-like latent that trades shoulder width against hip width. Stature itself is drawn too,
but pretreatment scales every silhouette to the same height, so it cannot identify anyone.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np


@dataclass(frozen=True)
class BodyShape:
    """One walker's body; lengths and radii are fractions of `stature` (metres)."""

    stature: float
    head_height: float  # crown to chin
    head_width: float  # half-width of the head ellipsoid (side to side)
    head_depth: float  # half-depth (front to back)
    neck_length: float
    chest_height: float  # half-height of the chest ellipsoid
    chest_width: float  # half-width
    chest_depth: float  # half-depth
    waist_width: float  # half-width of the abdomen/pelvis ellipsoid
    waist_depth: float
    pelvis_height: float  # half-height of the abdomen/pelvis ellipsoid
    shoulder_width: float  # half distance between shoulder joints
    hip_width: float  # half distance between hip joints
    hip_height: float  # hip joint above the ground, standing
    upper_arm: float
    forearm: float
    hand: float
    thigh: float
    shank: float
    foot: float
    heel: float  # ankle to heel, backwards
    arm_radius: float  # upper arm radius at the shoulder (tapers to the wrist)
    thigh_radius: float  # thigh radius at the hip (tapers to the ankle)
    belly: float  # forward shift of the abdomen (0 = flat)

    def scaled(self, factors: dict[str, float]) -> "BodyShape":
        """A copy with some fields multiplied (covariates and per-sequence jitter use this)."""
        return replace(self, **{name: getattr(self, name) * f for name, f in factors.items()})


# Population means (fractions of stature) and relative standard deviations.
_MEAN = dict(
    head_height=0.136, head_width=0.052, head_depth=0.058, neck_length=0.040,
    chest_height=0.130, chest_width=0.094, chest_depth=0.092,
    waist_width=0.095, waist_depth=0.085, pelvis_height=0.105,
    shoulder_width=0.112, hip_width=0.055, hip_height=0.530,
    upper_arm=0.186, forearm=0.146, hand=0.090,
    thigh=0.245, shank=0.246, foot=0.115, heel=0.035,
    arm_radius=0.031, thigh_radius=0.060, belly=0.0,
)
_REL_SD = dict(
    head_height=0.05, head_width=0.06, head_depth=0.06, neck_length=0.15,
    chest_height=0.05, chest_width=0.06, chest_depth=0.08,
    waist_width=0.07, waist_depth=0.10, pelvis_height=0.06,
    shoulder_width=0.05, hip_width=0.07, hip_height=0.025,
    upper_arm=0.04, forearm=0.04, hand=0.06,
    thigh=0.035, shank=0.035, foot=0.05, heel=0.10,
    arm_radius=0.08, thigh_radius=0.08, belly=0.0,
)
# Fields that scale with build (how heavy or slim someone is).
_WIDTHS = ("chest_width", "chest_depth", "waist_width", "waist_depth", "arm_radius", "thigh_radius", "head_width")


def draw_body(rng: np.random.Generator) -> BodyShape:
    """A random adult: stature, proportions, build and a shoulder-vs-hip latent."""
    values = {name: mean * (1.0 + _REL_SD[name] * rng.standard_normal()) for name, mean in _MEAN.items()}
    # Leg length anticorrelates a little with trunk length (the fractions sum to one stature).
    values["hip_height"] = values["thigh"] + values["shank"] + 0.039 * (1 + 0.05 * rng.standard_normal())
    build = float(np.exp(0.07 * rng.standard_normal()))  # ~0.85 slim .. ~1.15 heavy
    for name in _WIDTHS:
        values[name] *= build
    values["waist_depth"] *= build ** 0.5  # heavier people gain depth at the belly most
    values["belly"] = max(0.0, 0.03 * (build - 1.0) + 0.008 * rng.standard_normal())
    masculine = float(np.clip(rng.normal(0.0, 1.0), -2.0, 2.0))  # trades shoulders against hips
    values["shoulder_width"] *= 1.0 + 0.04 * masculine
    values["chest_width"] *= 1.0 + 0.05 * masculine
    values["waist_width"] *= 1.0 - 0.03 * masculine
    values["hip_width"] *= 1.0 - 0.05 * masculine
    stature = float(np.clip(rng.normal(1.70, 0.09), 1.45, 2.0))
    return BodyShape(stature=stature, **{k: float(v) for k, v in values.items()})


def jitter_body(body: BodyShape, rng: np.random.Generator, scale: float = 0.02) -> BodyShape:
    """The same body on another day: widths change a little (clothes, posture), lengths barely."""
    factors = {}
    for f in fields(BodyShape):
        if f.name in ("stature", "belly"):
            continue
        sd = scale if f.name in _WIDTHS else scale / 3
        factors[f.name] = 1.0 + sd * rng.standard_normal()
    return body.scaled(factors)
