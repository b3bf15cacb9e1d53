"""One walking sequence: a subject, a condition and a view -> raw binary silhouettes.

Identity lives in `Subject` (body proportions + gait style, drawn once per subject). As in
CASIA-B, where 11 fixed cameras film the same walk, a walk's own variation (speed, amplitudes,
starting phase, bag, coat) is drawn once and shared by its views (`walk_rng`); each view adds
what its camera sees differently (`view_rng`: length, path jitter, segmentation noise); and the
camera itself (`CameraRig`: height, distance, lighting, background quality) is fixed per view.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gaitreid.synth.body import BodyShape, draw_body, jitter_body
from gaitreid.synth.covariates import (adjust_body_for_coat, adjust_gait_for_bag, bag_primitives, coat_primitives,
                                       draw_bag, draw_coat)
from gaitreid.synth.gait import GaitStyle, draw_gait, jitter_gait, joint_angles
from gaitreid.synth.noise import CameraNoise, draw_camera_noise, draw_noise, fray_and_hole, hidden_limbs, shadow_primitive
from gaitreid.synth.render import Camera, Canvas, Projector, rasterise
from gaitreid.synth.skeleton import body_primitives, pose_skeleton


@dataclass(frozen=True)
class Subject:
    """Who walks: what stays the same across all of a subject's sequences."""

    body: BodyShape
    gait: GaitStyle


def draw_subject(rng: np.random.Generator) -> Subject:
    return Subject(body=draw_body(rng), gait=draw_gait(rng))


@dataclass(frozen=True)
class CameraRig:
    """One view's fixed camera: how high, how far, how much the view turns as the walker passes."""

    elevation_deg: float
    distance: float
    drift_deg: float
    noise: CameraNoise


@dataclass(frozen=True)
class RenderConfig:
    """Raw frame size and the ranges a sequence's recording conditions are drawn from."""

    raw_height: int = 128  # raw frame rows; the standing body spans ~75% of them
    frames: tuple[int, int] = (56, 72)  # frames per sequence (inclusive range): 2-3 gait cycles
    # Each view has one fixed camera (as in CASIA-B's studio); its set-up is drawn from these:
    elevation_deg: tuple[float, float] = (6.0, 20.0)  # camera above the walker
    distance_m: tuple[float, float] = (3.0, 6.0)
    view_drift_deg: tuple[float, float] = (4.0, 12.0)  # view change while the walker passes
    # ... and each recording varies a little around it:
    view_jitter_deg: float = 1.0  # the walker's path is never exactly the same
    noise: bool = True

    def draw_rig(self, rng: np.random.Generator, light_deg: float) -> CameraRig:
        return CameraRig(elevation_deg=float(rng.uniform(*self.elevation_deg)),
                         distance=float(rng.uniform(*self.distance_m)),
                         drift_deg=float(rng.uniform(*self.view_drift_deg)),
                         noise=draw_camera_noise(rng, light_deg))

    @property
    def canvas(self) -> Canvas:
        return Canvas(height=self.raw_height, width=int(round(self.raw_height * 0.8)),
                      body_px=self.raw_height * 0.75)


def render_sequence(subject: Subject, condition_type: str, view_deg: float, rig: CameraRig,
                    walk_rng: np.random.Generator, view_rng: np.random.Generator,
                    cfg: RenderConfig = RenderConfig()) -> np.ndarray:
    """Raw silhouettes [T, raw_height, W] uint8 (0/255) of one walk seen from one view.

    W <= the canvas width: empty columns at the sides are cropped (keeping a small margin).
    """
    body = jitter_body(subject.body, walk_rng)
    gait = jitter_gait(subject.gait, walk_rng)
    bag = draw_bag(walk_rng) if condition_type == "bg" else None
    coat = draw_coat(walk_rng) if condition_type == "cl" else None
    gait = adjust_gait_for_bag(gait, bag)
    body = adjust_body_for_coat(body, coat)
    start_phase = walk_rng.random()

    rng = view_rng
    t = int(rng.integers(cfg.frames[0], cfg.frames[1] + 1))
    phase = start_phase + np.arange(t) / gait.cycle_frames
    angles = joint_angles(gait, phase)
    coat_arms = 4.0 * (coat.widen - 1.0) / 0.3 if coat else 0.0  # sleeves over a thick coat stand out
    sk = pose_skeleton(body, angles, gait, coat_arms)

    prims = body_primitives(body, sk, sleeve=coat.sleeve if coat else 1.0)
    if bag is not None:
        prims += bag_primitives(bag, body, sk, phase)
    if coat is not None:
        prims += coat_primitives(coat, body, sk)
    noise = draw_noise(rng, rig.noise) if cfg.noise else None
    if noise is not None:
        prims += shadow_primitive(rng, sk, noise, rig.noise.light_deg)

    sweep = np.arange(t) / max(t - 1, 1) - 0.5
    views = view_deg + rng.normal(0.0, cfg.view_jitter_deg) + rig.drift_deg * sweep
    camera = Camera(view_deg=views, elevation_deg=rig.elevation_deg, distance=rig.distance)
    anchor = sk["pelvis"].copy()
    anchor[:, 2] = 0.5 * body.stature  # fixed height: the bounce stays in the picture
    canvas = cfg.canvas
    projector = Projector(camera, canvas, body.stature, anchor)
    hidden = hidden_limbs(rng, t, noise) if noise is not None else None
    frames = crop_empty_columns(rasterise(prims, projector, canvas, hidden), margin=4)
    if noise is not None:
        fray_and_hole(frames, rng, noise, canvas.body_px)
    return frames


def crop_empty_columns(frames: np.ndarray, margin: int) -> np.ndarray:
    """Keep the columns any frame uses, plus `margin` (a camera frame's empty sides carry no
    information; dropping them makes noise and pretreatment cheaper). Returns a contiguous copy."""
    used = np.flatnonzero(frames.max(axis=(0, 1)))
    if used.size == 0:
        return frames
    return np.ascontiguousarray(frames[:, :, max(0, used[0] - margin): used[-1] + 1 + margin])
