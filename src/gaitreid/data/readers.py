"""Read one sequence's frames from disk: a folder of PNG frames or an OpenGait pkl array.

PNG frames are decoded with OpenCV (already needed for video; measured on CASIA-B-sized frames
against Pillow in benchmarks/bench_png_decode.py). Pickles go through the numpy-only unpickler.
Frames that cannot be used are skipped and reported as problems naming the file; the caller
decides what a sequence with too few frames left means.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from gaitreid.data.problems import MIXED_SIZES, UNREADABLE_FILE, UNSAFE_PICKLE, Problem, report
from gaitreid.data.safe_pickle import load_numpy_pickle
from gaitreid.data.scan import SequenceSource
from gaitreid.errors import DataError, UnsafePickleError


def read_png(path: str | Path) -> np.ndarray:
    """[H, W] uint8 grayscale frame; DataError naming the file when it is empty or not a PNG."""
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as err:
        raise DataError(f"{path}: cannot read: {err.strerror or err}") from None
    if data.size == 0:
        raise DataError(f"{path}: empty file (0 bytes)")
    frame = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
    if frame is None:
        raise DataError(f"{path}: not a decodable image (corrupt or truncated PNG)")
    return frame


def read_sequence(source: SequenceSource) -> tuple[np.ndarray, list[Problem]]:
    """[T, H, W] uint8 frames (0..255) of one sequence, and the problems met reading it.

    T is 0 when no frame could be read. Binary masks stored as 0/1 are scaled to 0/255.
    """
    if source.kind == "pkl":
        frames, problems = _read_pkl(source.files[0])
    else:
        frames, problems = _read_png_frames(source)
    if frames.size and frames.max() == 1:
        frames = frames * np.uint8(255)
    return frames, problems


def _read_pkl(path: Path) -> tuple[np.ndarray, list[Problem]]:
    empty = np.zeros((0, 1, 1), dtype=np.uint8)
    try:
        array = load_numpy_pickle(path)
    except UnsafePickleError as err:
        return empty, [report(UNSAFE_PICKLE, path, str(err).split(": ", 1)[1])]
    except DataError as err:
        return empty, [report(UNREADABLE_FILE, path, str(err).split(": ", 1)[1])]
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or 0 in array.shape[1:]:
        return empty, [report(UNREADABLE_FILE, path, f"array of shape {array.shape}, expected frames [T, H, W]")]
    try:
        return _as_uint8(array), []
    except ValueError as err:
        return empty, [report(UNREADABLE_FILE, path, str(err))]


def _as_uint8(array: np.ndarray) -> np.ndarray:
    """Silhouettes as uint8 0..255, from uint8, bool, small integers, or floats in [0, 1] or [0, 255]."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * np.uint8(255)
    if array.size == 0:
        return array.astype(np.uint8)
    low, high = float(array.min()), float(array.max())
    if np.issubdtype(array.dtype, np.floating) and low >= 0 and high <= 1.0:
        return np.rint(array * 255).astype(np.uint8)
    if np.issubdtype(array.dtype, np.number) and low >= 0 and high <= 255:
        return np.rint(array).astype(np.uint8)
    raise ValueError(f"{array.dtype} values in [{low:g}, {high:g}], expected silhouettes in 0..255 or 0..1")


def _read_png_frames(source: SequenceSource) -> tuple[np.ndarray, list[Problem]]:
    problems: list[Problem] = []
    frames: list[np.ndarray] = []
    for path in source.files:
        try:
            frames.append(read_png(path))
        except DataError as err:
            problems.append(report(UNREADABLE_FILE, path, str(err).split(": ", 1)[1] + " (frame skipped)"))
    if not frames:
        return np.zeros((0, 1, 1), dtype=np.uint8), problems
    sizes = Counter(f.shape for f in frames)
    if len(sizes) > 1:
        (keep, count), = sizes.most_common(1)
        dropped = len(frames) - count
        listed = ", ".join(f"{h}x{w} ({n})" for (h, w), n in sizes.most_common())
        problems.append(report(
            MIXED_SIZES, source.folder,
            f"mixed frame sizes {listed}; kept the {keep[0]}x{keep[1]} frames, skipped {dropped}",
        ))
        frames = [f for f in frames if f.shape == keep]
    return np.stack(frames), problems
