"""Tiny dataset trees written by the data tests: PNG and pkl, good and bad."""

from __future__ import annotations

import pickle
from pathlib import Path

import cv2
import numpy as np


def walker(t: int, height: int = 64, width: int = 64, seed: int = 0) -> np.ndarray:
    """[t, height, width] uint8: a person-like blob that swings its legs, filling the rows."""
    rng = np.random.default_rng(seed)
    frames = np.zeros((t, height, width), dtype=np.uint8)
    cx = width // 2
    for i in range(t):
        body = max(2, width // 10)
        frames[i, :, cx - body : cx + body] = 255
        swing = int(3 * np.sin(i / 2)) + int(rng.integers(0, 2))
        frames[i, height * 2 // 3 :, cx - body - swing - 2 : cx - body - swing] = 255
    return frames


def write_pkl_sequence(root: Path, key: tuple[str, str, str], frames: np.ndarray) -> Path:
    folder = root.joinpath(*key)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{key[2]}.pkl"
    path.write_bytes(pickle.dumps(frames, protocol=4))
    return path


def write_png_sequence(root: Path, key: tuple[str, str, str], frames: np.ndarray) -> Path:
    folder = root.joinpath(*key)
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        assert cv2.imwrite(str(folder / f"{'-'.join(key)}-{i + 1:03d}.png"), frame)
    return folder


def pkl_tree(root: Path, subjects=("001", "002"), conditions=("nm-01", "bg-01"), views=("000", "090"),
             length: int = 12) -> dict[tuple[str, str, str], np.ndarray]:
    written = {}
    for s_i, subject in enumerate(subjects):
        for c_i, condition in enumerate(conditions):
            for v_i, view in enumerate(views):
                frames = walker(length + s_i + c_i + v_i, seed=s_i * 100 + c_i * 10 + v_i)
                write_pkl_sequence(root, (subject, condition, view), frames)
                written[(subject, condition, view)] = frames
    return written
