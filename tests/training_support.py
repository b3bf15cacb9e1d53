"""Tiny stores for the training tests: blob "walkers" whose shape and sway depend on the subject.

Each subject has its own body proportions and swing frequency, so a few training steps can
learn something; the frames are drawn here (no synthetic-data package needed).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from gaitreid.data.layout import SequenceKey
from gaitreid.data.pretreat import PretreatConfig
from gaitreid.data.store import SequenceStore, StoreWriter

CONDITIONS = ("nm-01", "nm-02", "nm-03", "nm-04", "nm-05", "bg-01", "cl-01")
VIEWS = ("000", "090", "180")


def walker_frames(subject: int, seq_seed: int, frames: int, height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(1000 * subject + seq_seed)
    srng = np.random.default_rng(subject)
    torso_w = 0.12 + 0.10 * srng.random()
    head_r = 0.07 + 0.05 * srng.random()
    freq = 0.15 + 0.25 * srng.random()
    phase0 = rng.random() * 6.28
    out = np.zeros((frames, height, width), np.uint8)
    for t in range(frames):
        img = np.zeros((height * 4, width * 4), np.uint8)
        h, w = img.shape
        cx = w // 2 + int(2 * rng.normal())
        swing = np.sin(phase0 + freq * 2 * np.pi * t / 8)
        cv2.circle(img, (cx, int(0.12 * h)), int(head_r * h), 255, -1)
        cv2.ellipse(img, (cx, int(0.38 * h)), (int(torso_w * w), int(0.18 * h)), 0, 0, 360, 255, -1)
        for side in (-1, 1):
            foot = (cx + int(side * swing * 0.18 * w), int(0.95 * h))
            cv2.line(img, (cx, int(0.55 * h)), foot, 255, max(2, int(0.06 * w)))
        out[t] = cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)
    return out


def make_tiny_store(path: Path, subjects: int = 8, frames: int = 12, height: int = 32, width: int = 22,
                    conditions=CONDITIONS, views=VIEWS) -> SequenceStore:
    pretreat = PretreatConfig(height=height, width=width)
    with StoreWriter(path, pretreat, source="tests/training_support") as writer:
        for s in range(1, subjects + 1):
            for ci, cond in enumerate(conditions):
                for vi, view in enumerate(views):
                    seq = walker_frames(s, 100 * ci + vi, frames + (s + ci + vi) % 3, height, width)
                    writer.add(SequenceKey(f"{s:03d}", cond, view), seq)
    return SequenceStore.open(path)


TINY_MODEL = [
    "model.widths=[8,16,32]", "model.bins=[1,2,4]", "model.embedding_dim=32",
    "model.in_height=32", "model.in_width=22", "data.height=32", "data.width=22",
]


def tiny_overrides(store_path: Path, split_path: Path, steps: int = 6, extra=()) -> list[str]:
    """A config for seconds-long runs on the tiny store: small model, short clips, few steps."""
    out = [
        f"data.source={store_path}", f"data.split={split_path}#s", "data.validation=holdout", "data.val_fraction=0.2",
        "data.clip_length=8", *TINY_MODEL, "runtime.progress=false", "runtime.bf16=off", "runtime.threads=1",
        "validation.max_frames=10",
    ]
    for phase in ("ssl", "supervised", "hybrid"):
        out += [f"phase.{phase}.steps={steps}", f"phase.{phase}.log_every=1", f"phase.{phase}.checkpoint_every=3",
                f"phase.{phase}.eval_every=0", f"phase.{phase}.lr=0.003", f"phase.{phase}.schedule.warmup_steps=0"]
    out += ["phase.ssl.batch_sequences=8", "phase.supervised.batch_p=3", "phase.supervised.batch_k=2",
            "phase.hybrid.batch_p=3", "phase.hybrid.batch_k=2", "phase.supervised.freeze_early_steps=2"]
    return out + list(extra)


def write_split(path: Path) -> Path:
    import json

    path.write_text(json.dumps({"dataset": "tiny", "splits": {"s": {"test_fraction": 0.25}}}))
    return path
