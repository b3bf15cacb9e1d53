"""Camera projection and rasterisation of the walker's solids into binary silhouettes.

The camera sits at the sequence's view angle (CASIA-B: 000 = walking towards the camera,
090 = walking right-to-left across it, 180 = walking away), a few degrees above the walker,
looking slightly down. Points are projected in perspective; each solid becomes a filled 2-D
shape drawn with OpenCV's polygon and ellipse fill (sub-pixel precise), which is much faster
than evaluating distance fields per pixel:
capsule -> two discs + the quadrilateral between them; ellipsoid -> the ellipse its semi-axes
span in the image plane; hull -> the convex hull of its projected points.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from gaitreid.synth.skeleton import Capsule, Ellipsoid, Hull, Primitive

_SHIFT = 4  # OpenCV fractional bits: coordinates are drawn to 1/16 pixel
_ONE = 1 << _SHIFT


@dataclass(frozen=True)
class Camera:
    """Where the camera is, relative to the walker's path."""

    view_deg: np.ndarray  # [T] view angle per frame (the walker passes the camera, so it drifts)
    elevation_deg: float  # camera above the walker, looking down by this much
    distance: float  # metres from the camera to the walker's pelvis


@dataclass(frozen=True)
class Canvas:
    """The raw frame: `height` x `width` pixels; a standing body spans about `body_px` pixels."""

    height: int
    width: int
    body_px: float


def camera_rotation(view_deg: np.ndarray, elevation_deg: float) -> np.ndarray:
    """[T,3,3] from walker coordinates (x fwd, y left, z up) to camera (u right, v up, w away)."""
    yaw = -np.deg2rad(90.0 + view_deg)  # view 0: walker faces the camera; 90: walks to image-left
    c, s = np.cos(yaw), np.sin(yaw)
    o, i = np.zeros_like(yaw), np.ones_like(yaw)
    # walker -> (u, w, z) by a rotation about z
    about_z = np.stack([np.stack([c, -s, o], -1), np.stack([s, c, o], -1), np.stack([o, o, i], -1)], -2)
    e = np.deg2rad(elevation_deg)
    ce, se = np.cos(e), np.sin(e)
    # (u, w, z) -> (u, v, w'): the camera looks down, so far points rise in the image
    pitch = np.array([[1.0, 0.0, 0.0], [0.0, se, ce], [0.0, ce, -se]])
    return pitch[None] @ about_z


class Projector:
    """Projects walker-frame points of one sequence into raw-frame pixel coordinates."""

    def __init__(self, camera: Camera, canvas: Canvas, stature: float, anchor: np.ndarray):
        self.rotation = camera_rotation(camera.view_deg, camera.elevation_deg)  # [T,3,3]
        self.distance = camera.distance
        self.scale = canvas.body_px / stature  # pixels per metre at the walker's distance
        # Keep the walker's pelvis at a fixed spot: centred, the feet near the bottom.
        self.anchor = anchor  # [T,3] walker-frame point placed at the canvas centre
        self.center = np.array([canvas.width / 2.0, canvas.height / 2.0 + 0.02 * canvas.body_px])

    def _camera(self, points: np.ndarray) -> np.ndarray:
        """[T,...,3] walker frame -> [T,...,3] camera frame, relative to the anchor."""
        rel = points - self.anchor.reshape(self.anchor.shape[0], *([1] * (points.ndim - 2)), 3)
        return np.einsum("tij,t...j->t...i", self.rotation, rel)

    def points(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates [T,...,2] and the perspective factor [T,...] of each point."""
        cam = self._camera(points)
        factor = self.scale * self.distance / (self.distance + cam[..., 2])
        px = np.stack([self.center[0] + cam[..., 0] * factor, self.center[1] - cam[..., 1] * factor], -1)
        return px, factor

    def ellipse(self, center: np.ndarray, axes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Image ellipse of a solid ellipsoid: centre [T,2], half-axes [T,2], angle [T] (degrees)."""
        px, factor = self.points(center)
        b = np.einsum("tij,tjk->tik", self.rotation, axes)[:, :2, :] * factor[:, None, None]  # [T,2,3]
        b[:, 1, :] *= -1.0  # image rows grow downwards
        shape = b @ b.transpose(0, 2, 1)  # [T,2,2]: the ellipse is {x : x^T shape^-1 x <= 1}
        evals, evecs = np.linalg.eigh(shape)
        half_axes = np.sqrt(np.maximum(evals, 1e-9))
        angle = np.degrees(np.arctan2(evecs[:, 1, 0], evecs[:, 0, 0]))
        return px, half_axes, angle


def rasterise(prims: list[Primitive], projector: Projector, canvas: Canvas,
              hidden: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Binary silhouettes [T,H,W] uint8 (0/255); `hidden[name][t]` drops a solid in frame t."""
    hidden = hidden or {}
    shapes = []  # per primitive: (kind, per-frame drawing data)
    t = projector.anchor.shape[0]
    for prim in prims:
        if isinstance(prim, Capsule):
            ends, factor = projector.points(np.stack([prim.a, prim.b], 1))  # [T,2,2], [T,2]
            radii = factor * np.array([prim.ra, prim.rb])
            d = ends[:, 1] - ends[:, 0]
            n = np.stack([-d[:, 1], d[:, 0]], -1) / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-6)
            quad = np.stack([ends[:, 0] + n * radii[:, :1], ends[:, 1] + n * radii[:, 1:],
                             ends[:, 1] - n * radii[:, 1:], ends[:, 0] - n * radii[:, :1]], 1)
            shapes.append(("capsule", prim.name, (prim.cap_a, prim.cap_b, np.rint(ends * _ONE).astype(np.int32),
                                                  np.rint(radii * _ONE).astype(np.int32),
                                                  np.rint(quad * _ONE).astype(np.int32))))
        elif isinstance(prim, Ellipsoid):
            center, half_axes, angle = projector.ellipse(prim.center, prim.axes)
            shapes.append(("ellipse", prim.name, (np.rint(center * _ONE).astype(np.int32),
                                                  np.rint(half_axes * _ONE).astype(np.int32), angle)))
        elif isinstance(prim, Hull):
            pts, _ = projector.points(prim.points)
            shapes.append(("hull", prim.name, np.rint(pts * _ONE).astype(np.int32)))
        else:
            raise TypeError(f"unknown primitive {prim!r}")

    frames = np.zeros((t, canvas.height, canvas.width), dtype=np.uint8)
    images = list(frames)  # one view per frame, made once
    line, fill = cv2.LINE_8, 255
    for kind, name, data in shapes:
        skip = hidden.get(name)
        visible = range(t) if skip is None else np.flatnonzero(~skip).tolist()
        # Plain Python lists per primitive: indexing them is much cheaper than numpy per frame.
        if kind == "capsule":
            cap_a, cap_b, ends, radii, quad = data
            ends_l, radii_l, quads = ends.reshape(t, 4).tolist(), radii.tolist(), list(quad)
            for i in visible:
                x0, y0, x1, y1 = ends_l[i]
                r0, r1 = radii_l[i]
                img = images[i]
                if cap_a:
                    cv2.circle(img, (x0, y0), r0, fill, -1, line, _SHIFT)
                if cap_b:
                    cv2.circle(img, (x1, y1), r1, fill, -1, line, _SHIFT)
                cv2.fillConvexPoly(img, quads[i], fill, line, _SHIFT)
        elif kind == "ellipse":
            center, half_axes, angle = data
            center_l, axes_l, angle_l = center.tolist(), half_axes.tolist(), angle.tolist()
            for i in visible:
                cv2.ellipse(images[i], center_l[i], axes_l[i], angle_l[i], 0.0, 360.0, fill, -1, line, _SHIFT)
        else:
            hulls = list(data)
            for i in visible:
                cv2.fillConvexPoly(images[i], cv2.convexHull(hulls[i]), fill, line, _SHIFT)
    return frames
