"""A test video made here: synthetic walkers crossing a noisy static scene, with the true masks.

The walker's silhouettes come from the SYNTH helper's renderer (`gaitreid.synth`, no segmentation
noise), pasted at a position that moves across the picture; the person is filled with a dark
textured "clothing" colour, the scene is a fixed random texture, and every frame gets fresh
sensor noise. The video is written as MJPG in .avi (lossy, like a real camera file).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


def walker_silhouettes(seed: int = 0, frames: int = 64, condition: str = "nm-01") -> np.ndarray:
    """[T, h, w] uint8 0/255 side-view silhouettes of one synthetic person walking in place."""
    from gaitreid.synth.dataset import SynthConfig, plan_jobs, raw_sequence
    from gaitreid.synth.sequence import RenderConfig

    cfg = SynthConfig(subjects=1, seed=seed, render=RenderConfig(frames=(frames, frames), noise=False))
    job = next(j for j in plan_jobs(cfg) if j.key.condition == condition and j.key.view == "090")
    return np.where(raw_sequence(cfg, job) > 127, 255, 0).astype(np.uint8)


@dataclass
class Scene:
    video: Path
    truth: list[list[tuple[int, int, np.ndarray]]]  # per walker, per frame: (x, y, mask) pasted at x, y
    size: tuple[int, int]  # frame height, width


def render_scene(path: Path, walkers: int = 1, frames: int = 70, size=(150, 320), seed: int = 0,
                 person_value: int = 40, speed: float = 4.5, delay: int = 36, lead: int = 0,
                 condition: str = "nm-01") -> Scene:
    """Write the video; walkers enter from the left one after another (`delay` frames apart, so
    they never overlap: crossing people merge into one blob, which extract cannot separate).
    `lead` frames of walking happen before the video starts (someone in view from frame 0)."""
    rng = np.random.default_rng(seed)
    height, width = size
    texture = cv2.GaussianBlur(rng.uniform(60, 200, size=(height, width, 3)).astype(np.float32), (0, 0), 3)
    people = [walker_silhouettes(seed + k, frames, condition) for k in range(walkers)]
    truth: list[list] = [[] for _ in range(walkers)]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (width, height))
    assert writer.isOpened(), "MJPG/avi writer unavailable"
    for t in range(frames):
        frame = texture.copy()
        for k, sil in enumerate(people):
            h, w = sil.shape[1:]
            offset = t - delay * k + lead
            x = int(round(-w + speed * offset))
            y = height - h - 6
            if offset < 0 or x + w <= 0 or x >= width:
                truth[k].append((x, y, None))
                continue
            mask = sil[t % len(sil)]
            x0, x1 = max(x, 0), min(x + w, width)
            visible = mask[:, x0 - x : x1 - x] > 0
            cloth = person_value + rng.normal(0, 6, size=(h, x1 - x0, 3))
            region = frame[y : y + h, x0:x1]
            region[visible] = cloth[visible]
            truth[k].append((x, y, mask))
        frame += rng.normal(0, 4, size=frame.shape)  # sensor noise
        writer.write(np.clip(frame, 0, 255).astype(np.uint8))
    writer.release()
    return Scene(path, truth, size)


def full_frame(size: tuple[int, int], x: int, y: int, mask: np.ndarray) -> np.ndarray:
    """A mask pasted at (x, y) into an empty frame of `size` (clipped at the edges), bool."""
    out = np.zeros((size[0] + 2 * mask.shape[0], size[1] + 2 * mask.shape[1]), dtype=bool)
    oy, ox = mask.shape
    out[y + oy : y + 2 * oy, x + ox : x + 2 * ox] = mask > 0
    return out[oy : oy + size[0], ox : ox + size[1]]


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0
