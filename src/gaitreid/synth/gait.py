"""Periodic joint-angle model of walking: each angle is a smooth function of the gait phase.

The templates follow textbook sagittal-plane curves of normal gait (phase 0 = right heel strike):
the thigh swings from about 28 deg forward to 19 deg back, the knee flexes ~15 deg while
loading and ~60 deg in swing, the ankle plantarflexes ~15 deg at toe-off. Arms swing opposite to
the legs; the pelvis rotates a few degrees; the trunk leans forward a little. A subject scales
each template, shifts it, and adds a small subject-specific wobble in the first harmonics (a
gait "signature"); the left side is the right side half a cycle later, with a small asymmetry.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

HARMONICS = 6  # Fourier terms kept (0 = mean); enough for the knee's double hump
FPS = 25.0  # CASIA-B frame rate
MAX_ARM_SWING = 40.0  # degrees either way: beyond this walking arms look like marching

# (phase, degrees) keyframes of the right leg; interpolated periodically, then smoothed.
_HIP_KEYS = [(0.0, 25), (0.10, 23), (0.30, 2), (0.50, -19), (0.60, -10), (0.75, 22), (0.88, 29)]
_KNEE_KEYS = [(0.0, 4), (0.12, 17), (0.38, 4), (0.50, 10), (0.62, 40), (0.72, 62), (0.84, 35), (0.95, 5)]
_ANKLE_KEYS = [(0.0, -1), (0.07, -6), (0.30, 6), (0.45, 10), (0.55, 0), (0.63, -17), (0.75, -2), (0.90, 1)]


def _fourier_of_keys(keys: list[tuple[float, float]]) -> np.ndarray:
    """Complex coefficients c_k (k < HARMONICS) of a periodic piecewise-linear curve."""
    grid = np.linspace(0.0, 1.0, 256, endpoint=False)
    phases = np.array([p for p, _ in keys] + [keys[0][0] + 1.0])
    values = np.array([v for _, v in keys] + [keys[0][1]], dtype=np.float64)
    curve = np.interp(grid, phases, values)
    spectrum = np.fft.rfft(curve) / grid.size
    spectrum[1:] *= 2.0  # one-sided: angle(phase) = Re(sum_k c_k exp(2 pi i k phase))
    return spectrum[:HARMONICS]


_HIP = _fourier_of_keys(_HIP_KEYS)
_KNEE = _fourier_of_keys(_KNEE_KEYS)
_ANKLE = _fourier_of_keys(_ANKLE_KEYS)


def evaluate(coefficients: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """Angle in degrees at each phase (cycles, any real number): [T]."""
    k = np.arange(coefficients.size)
    waves = np.exp(2j * np.pi * np.outer(phase, k))  # [T, K]
    return (waves @ coefficients).real


@dataclass(frozen=True)
class GaitStyle:
    """How one subject walks. Angles in degrees; `cycle_frames` is one stride at 25 fps."""

    cycle_frames: float
    hip: np.ndarray  # complex Fourier coefficients [HARMONICS], right leg
    knee: np.ndarray
    ankle: np.ndarray
    arm_swing: float  # shoulder flexion amplitude
    arm_mean: float  # mean shoulder flexion (negative: arms held back)
    elbow_base: float  # elbow flexion with the arm back
    elbow_gain: float  # extra elbow flexion with the arm forward
    arm_abduction: float  # arms held away from the body
    leg_abduction: float  # step width
    trunk_lean: float
    head_pitch: float  # head forward tilt
    pelvis_rotation: float  # transverse-plane rotation amplitude
    thorax_counter: float  # fraction of pelvic rotation the thorax undoes (and more)
    lateral_sway: float  # side-to-side pelvis travel, fraction of stature
    side_ratio: float  # left-leg amplitude / right-leg amplitude
    side_lag: float  # left leg phase lag beyond half a cycle, in cycles
    arm_ratio: float  # left-arm swing / right-arm swing (healthy adults differ a lot here)
    arm_abduction_asym: float  # left arm held this much further out than the right
    trunk_roll: float  # sideways trunk tilt (+ = towards the left), a postural habit

    def scaled(self, speed: float, stride: float, arms: float) -> "GaitStyle":
        """The same walker a little faster/slower, with longer/shorter steps and arm swing."""
        def amp(c: np.ndarray, f: float) -> np.ndarray:
            out = c.copy()
            out[1:] *= f
            return out

        return replace(
            self,
            cycle_frames=self.cycle_frames / speed,
            hip=amp(self.hip, stride),
            knee=amp(self.knee, stride ** 0.5),
            arm_swing=self.arm_swing * arms,
        )


def _wobble(rng: np.random.Generator, sizes: tuple[float, ...]) -> np.ndarray:
    """Small random harmonics (degrees) that make each subject's curve its own."""
    c = np.zeros(HARMONICS, dtype=np.complex128)
    for k, size in enumerate(sizes, start=1):
        c[k] = size * (rng.standard_normal() + 1j * rng.standard_normal())
    return c


def draw_gait(rng: np.random.Generator) -> GaitStyle:
    """A random walker's style with the spread seen between healthy adults."""
    cadence = float(np.clip(rng.normal(112.0, 7.0), 90.0, 135.0))  # steps per minute

    def personal(template: np.ndarray, amp_sd: float, offset_sd: float, wobble: tuple[float, ...]) -> np.ndarray:
        c = template.copy()
        c[1:] *= 1.0 + amp_sd * rng.standard_normal()
        c[0] += offset_sd * rng.standard_normal()
        c += _wobble(rng, wobble)
        shift = 0.015 * rng.standard_normal()  # timing of the whole curve
        return c * np.exp(2j * np.pi * np.arange(HARMONICS) * shift)

    return GaitStyle(
        cycle_frames=FPS * 120.0 / cadence,
        hip=personal(_HIP, 0.10, 3.0, (2.0, 1.2, 0.6)),
        knee=personal(_KNEE, 0.10, 2.0, (3.0, 2.5, 1.2)),
        ankle=personal(_ANKLE, 0.15, 2.0, (1.5, 1.0, 0.5)),
        arm_swing=float(np.clip(rng.normal(20.0, 6.0), 5.0, 40.0)),
        arm_mean=float(rng.normal(-4.0, 4.0)),
        elbow_base=float(np.clip(rng.normal(15.0, 6.0), 3.0, 35.0)),
        elbow_gain=float(np.clip(rng.normal(15.0, 6.0), 0.0, 35.0)),
        arm_abduction=float(np.clip(rng.normal(3.5, 2.0), 0.5, 10.0)),
        leg_abduction=float(np.clip(rng.normal(2.5, 1.0), 0.5, 6.0)),
        trunk_lean=float(np.clip(rng.normal(4.0, 3.0), -3.0, 12.0)),
        head_pitch=float(rng.normal(5.0, 5.0)),
        pelvis_rotation=float(np.clip(rng.normal(5.0, 2.0), 1.0, 10.0)),
        thorax_counter=float(np.clip(rng.normal(1.4, 0.3), 0.6, 2.2)),
        lateral_sway=float(np.clip(rng.normal(0.012, 0.004), 0.003, 0.025)),
        side_ratio=float(np.clip(rng.normal(1.0, 0.05), 0.85, 1.15)),
        side_lag=float(rng.normal(0.0, 0.012)),
        arm_ratio=float(np.exp(np.clip(rng.normal(0.0, 0.3), -0.6, 0.6))),
        arm_abduction_asym=float(rng.normal(0.0, 3.0)),
        trunk_roll=float(rng.normal(0.0, 1.5)),
    )


def jitter_gait(style: GaitStyle, rng: np.random.Generator) -> GaitStyle:
    """The same subject in another recording: a bit faster or slower, steps and arms vary."""
    speed = float(np.exp(0.05 * rng.standard_normal()))
    stride = float(speed ** 0.5 * np.exp(0.05 * rng.standard_normal()))  # faster -> longer steps
    arms = float(np.exp(0.15 * rng.standard_normal()))
    jittered = style.scaled(speed, stride, arms)
    return replace(jittered, trunk_lean=style.trunk_lean + 1.5 * rng.standard_normal(),
                   head_pitch=style.head_pitch + 3.0 * rng.standard_normal())


@dataclass(frozen=True)
class JointAngles:
    """Angles (radians) for every frame, [T] each; `_r`/`_l` are the right/left sides."""

    hip_r: np.ndarray
    hip_l: np.ndarray
    knee_r: np.ndarray
    knee_l: np.ndarray
    ankle_r: np.ndarray
    ankle_l: np.ndarray
    shoulder_r: np.ndarray
    shoulder_l: np.ndarray
    elbow_r: np.ndarray
    elbow_l: np.ndarray
    pelvis_yaw: np.ndarray  # + turns the right hip forward
    thorax_yaw: np.ndarray
    sway: np.ndarray  # lateral pelvis offset, fraction of stature (+ = left)


def joint_angles(style: GaitStyle, phase: np.ndarray) -> JointAngles:
    """Evaluate the style at phases [T] (in cycles; 0 = right heel strike)."""
    left = phase + 0.5 + style.side_lag
    rad = np.deg2rad

    def side(c: np.ndarray, ratio: float) -> np.ndarray:
        out = c.copy()
        out[1:] *= ratio
        return out

    # Right arm is forward when the left leg is forward (phase 0.5 for the right-leg clock).
    swing_r = -np.cos(2 * np.pi * phase)
    swing_l = -np.cos(2 * np.pi * left)
    shoulder_r = style.arm_mean + min(style.arm_swing, MAX_ARM_SWING) * swing_r
    shoulder_l = style.arm_mean + min(style.arm_swing * style.arm_ratio, MAX_ARM_SWING) * swing_l
    elbow_r = style.elbow_base + style.elbow_gain * 0.5 * (1 + swing_r)
    elbow_l = style.elbow_base + style.elbow_gain * 0.5 * (1 + swing_l)
    pelvis_yaw = style.pelvis_rotation * np.cos(2 * np.pi * phase)
    return JointAngles(
        hip_r=rad(evaluate(style.hip, phase)),
        hip_l=rad(evaluate(side(style.hip, style.side_ratio), left)),
        knee_r=rad(np.maximum(evaluate(style.knee, phase), 0.0)),
        knee_l=rad(np.maximum(evaluate(side(style.knee, style.side_ratio), left), 0.0)),
        ankle_r=rad(evaluate(style.ankle, phase)),
        ankle_l=rad(evaluate(style.ankle, left)),
        shoulder_r=rad(shoulder_r),
        shoulder_l=rad(shoulder_l),
        elbow_r=rad(elbow_r),
        elbow_l=rad(elbow_l),
        pelvis_yaw=rad(pelvis_yaw),
        thorax_yaw=rad(-style.thorax_counter * pelvis_yaw),
        sway=-style.lateral_sway * np.sin(2 * np.pi * phase),  # towards the stance leg
    )
