"""Small things the gallery / video / export tests make for themselves: a tiny real checkpoint,
silhouette sequences of distinguishable "people" on disk, and embeddings with identity clusters."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

TINY_INPUT = (32, 22)  # pretreated frame size of the tiny test model


def make_checkpoint(directory: Path, seed: int = 0) -> Path:
    """A real checkpoint of a tiny gaitset-compact (embeddings [8, 3]) with seeded random weights."""
    import torch

    from gaitreid.data.pretreat import PretreatConfig
    from gaitreid.models import ModelConfig, build_model
    from gaitreid.training.checkpoint import save_checkpoint

    torch.manual_seed(seed)
    cfg = ModelConfig(name="gaitset-compact", widths=(4, 8, 8), bins=(1, 2), embedding_dim=8,
                      in_height=TINY_INPUT[0], in_width=TINY_INPUT[1])
    model = build_model(cfg)
    pretreat = PretreatConfig(height=TINY_INPUT[0], width=TINY_INPUT[1], min_frames=3)
    return save_checkpoint(directory, model_state=model.state_dict(),
                           state={"phase": "test", "step": 0, "model_config": cfg.to_dict(), "pretreat": pretreat.to_dict()})


def person_frames(person: int, frames: int = 10, size: tuple[int, int] = (64, 48), seed: int = 0) -> np.ndarray:
    """[T, H, W] uint8 silhouettes of a stick-like "person": body shape and leg swing depend on `person`."""
    rng = np.random.default_rng(1000 * person + seed)
    h, w = size
    width = 4 + (person % 4) * 2  # torso half-width
    swing = 2 + (person % 3) * 3
    out = np.zeros((frames, h, w), dtype=np.uint8)
    for t in range(frames):
        frame = out[t]
        cx = w // 2 + int(rng.integers(-1, 2))
        cv2.circle(frame, (cx, 8), 4 + person % 2, 255, -1)  # head
        cv2.ellipse(frame, (cx, 24), (width, 12), 0, 0, 360, 255, -1)  # torso
        phase = np.sin(2 * np.pi * t / 8 + person)
        for side in (-1, 1):
            foot = (int(cx + side * swing * phase), h - 4)
            cv2.line(frame, (cx, 34), foot, 255, 3)  # legs
    return out


def write_png_sequence(folder: Path, frames: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:04d}.png"), frame)
    return folder


def clustered_embeddings(identities: int, per_identity: int, shape=(16, 4), spread: float = 0.3, seed: int = 0):
    """Embeddings [N, c, p] around one centre per identity, and their identity labels [N]."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(identities, *shape)).astype(np.float32)
    labels = np.repeat(np.arange(identities), per_identity)
    noise = spread * rng.normal(size=(len(labels), *shape)).astype(np.float32)
    return centres[labels] + noise, labels
