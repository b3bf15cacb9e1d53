"""Segmentation noise like real background-subtracted silhouettes.

Real CASIA-B silhouettes have ragged edges, holes where clothes match the background, limbs
that vanish for a few frames, and a shadow blob at the feet. How much of each depends first on
the camera (its background and the studio lighting are fixed: one camera's silhouettes carry a
shadow, another's are ragged) and then on the recording, so some sequences are clean and some
are poor. The light comes from one fixed direction relative to the walking path.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from gaitreid.synth.skeleton import Ellipsoid, Skeleton

LIMBS_THAT_VANISH = ("forearm", "shank", "foot", "upper_arm", "thigh")


@dataclass(frozen=True)
class NoiseLevel:
    edge: float  # amplitude of the smooth random field that frays the outline (0 = clean)
    hole_rate: float  # expected holes started per frame
    limb_rate: float  # expected limb dropouts started per frame
    shadow: float  # shadow length in metres along the ground (0 = none)


@dataclass(frozen=True)
class CameraNoise:
    """What one camera's background and lighting do to every silhouette it records."""

    edge: float  # typical outline raggedness
    hole_rate: float
    shadow: float  # shadow length in metres (0: no shadow reaches this camera's silhouettes)
    light_deg: float  # direction the shadow falls, walker frame (0 = ahead, 90 = to the left)


def draw_camera_noise(rng: np.random.Generator, light_deg: float) -> CameraNoise:
    return CameraNoise(
        edge=float(rng.uniform(0.1, 0.45)),
        hole_rate=float(rng.choice([0.0, 0.02, 0.05])),
        shadow=float(rng.choice([0.0, 0.0, rng.uniform(0.25, 0.6)])),
        light_deg=light_deg,
    )


def draw_noise(rng: np.random.Generator, camera: CameraNoise) -> NoiseLevel:
    """One recording's noise: the camera's, varied a little."""
    return NoiseLevel(
        edge=float(np.clip(camera.edge + rng.normal(0.0, 0.08), 0.05, 0.6)),
        hole_rate=camera.hole_rate * float(rng.choice([0.0, 1.0, 2.0])),
        limb_rate=float(rng.choice([0.0, 0.0, 0.02, 0.05])),
        shadow=camera.shadow * float(rng.uniform(0.85, 1.15)),
    )


def _runs(rng: np.random.Generator, t: int, rate: float, length: tuple[int, int]) -> list[tuple[int, int]]:
    """Random [start, stop) frame runs: starts at `rate` per frame, lasting `length` frames."""
    starts = np.flatnonzero(rng.random(t) < rate)
    return [(int(s), int(min(t, s + rng.integers(length[0], length[1] + 1)))) for s in starts]


def hidden_limbs(rng: np.random.Generator, t: int, level: NoiseLevel) -> dict[str, np.ndarray]:
    """Which limb solids disappear in which frames: {primitive name: bool[T]}."""
    hidden: dict[str, np.ndarray] = {}
    for start, stop in _runs(rng, t, level.limb_rate, (2, 10)):
        limb = LIMBS_THAT_VANISH[int(rng.integers(len(LIMBS_THAT_VANISH)))]
        name = f"{limb}_{'r' if rng.random() < 0.5 else 'l'}"
        hidden.setdefault(name, np.zeros(t, dtype=bool))[start:stop] = True
    return hidden


def shadow_primitive(rng: np.random.Generator, sk: Skeleton, level: NoiseLevel, light_deg: float) -> list[Ellipsoid]:
    """A flat blob on the ground between the feet, cast towards the light's direction."""
    if level.shadow <= 0:
        return []
    t = sk["pelvis"].shape[0]
    feet = (sk["heel_r"] + sk["toe_r"] + sk["heel_l"] + sk["toe_l"]) / 4.0
    direction = np.deg2rad(light_deg + rng.normal(0.0, 5.0))
    c, s = np.cos(direction), np.sin(direction)
    along = np.array([c, s, 0.0]) * level.shadow / 2
    across = np.array([-s, c, 0.0]) * float(rng.uniform(0.10, 0.20))
    up = np.array([0.0, 0.0, 0.035])
    center = feet.copy()
    center[:, 2] = 0.0
    center = center + along * 0.6
    axes = np.broadcast_to(np.stack([along, across, up], 1), (t, 3, 3)).copy()
    return [Ellipsoid("shadow", center, axes)]


def fray_and_hole(frames: np.ndarray, rng: np.random.Generator, level: NoiseLevel, body_px: float) -> np.ndarray:
    """Ragged outline and holes, in place: [T,H,W] uint8 (0/255).

    Near the outline (within `band` pixels, wider for noisier sequences) each pixel is set by
    the sign of a smooth random field, so the edge wanders in and out in patches. The frames
    are processed as one tall image (their top and bottom rows are empty, so nothing leaks
    between frames), which makes this three OpenCV calls per sequence.
    """
    t, h, w = frames.shape
    tall = frames.reshape(t * h, w)
    band = max(1, int(round(level.edge * body_px / 48)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    inner = cv2.erode(tall, kernel)
    outer = cv2.dilate(tall, kernel)
    cell = max(2, int(round(body_px / 12)))  # noise correlation length: ~15 cm on the body
    field = rng.standard_normal((t * h // cell + 1, w // cell + 2)).astype(np.float32)
    smooth = cv2.resize(field, (w, t * h), interpolation=cv2.INTER_LINEAR)
    keep = cv2.compare(smooth, 0.0, cv2.CMP_GT)  # 255 where the edge moves out
    cv2.bitwise_or(inner, cv2.bitwise_and(outer, keep), dst=tall)
    # Round off the steps between moved-out and moved-in stretches: a 3x3 majority vote (box
    # mean > half), which equals a 3x3 median on binary images and is much faster in OpenCV.
    cv2.threshold(cv2.blur(tall, (3, 3)), 127, 255, cv2.THRESH_BINARY, dst=tall)
    for start, stop in _runs(rng, t, level.hole_rate, (1, 6)):
        cy = int(rng.uniform(0.30, 0.75) * h)
        cx = int(w / 2 + rng.normal(0, body_px * 0.04))
        axes = (int(rng.uniform(0.02, 0.06) * body_px), int(rng.uniform(0.02, 0.09) * body_px))
        angle = float(rng.uniform(0, 180))
        for i in range(start, stop):
            cv2.ellipse(frames[i], (cx, cy), axes, angle, 0, 360, 0, -1)
    return frames
