"""A user's sequence -> pretreated frames at the model's input size.

A SEQUENCE on the command line is one of
- a folder of PNG frames (or a folder holding one pkl),
- a pkl file of frames [T, H, W] (read with the numpy-only unpickler: nothing in it is run),
- a video of one person walking past a static camera (silhouettes extracted, longest track used).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from gaitreid.data.layout import SequenceKey
from gaitreid.data.pretreat import PretreatConfig, pretreat_sequence
from gaitreid.data.readers import read_sequence
from gaitreid.data.scan import SequenceSource, sequence_source
from gaitreid.errors import DataError

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".avi", ".mp4", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v", ".wmv"}
_QUERY_KEY = SequenceKey("query", "-", "-")


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def _read_frames(path: Path) -> np.ndarray:
    """Raw frames [T, H, W] uint8 of a folder or pkl; DataError naming the path when unusable."""
    problems = []
    if path.is_dir():
        source = sequence_source(path, _QUERY_KEY, problems)
        if source is None:
            raise DataError(f"{path}: no frames here (expected *.png frames or one *.pkl)")
    elif path.suffix.lower() == ".pkl":
        source = SequenceSource(_QUERY_KEY, path.parent, "pkl", (path,))
    else:
        raise DataError(f"{path}: not a sequence (expected a folder of PNG frames, a .pkl, or a video file)")
    frames, problems = read_sequence(source)
    for problem in problems:
        log.warning("%s", problem)
    if len(frames) == 0:
        detail = f": {problems[0]}" if problems else ""
        raise DataError(f"{path}: no readable frames{detail}")
    return frames


def load_sequence(path: str | Path, pretreat: PretreatConfig) -> np.ndarray:
    """Pretreated frames [T', pretreat.height, pretreat.width] uint8 of one sequence."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if is_video(path):
        from gaitreid.video.extract import ExtractConfig, extract_tracks

        tracks = extract_tracks(path, ExtractConfig(pretreat=pretreat))
        longest = max(tracks, key=lambda track: len(track.silhouettes))
        if len(tracks) > 1:
            log.warning("%s: %d people found; using the longest track (%s, %d frames)",
                        path, len(tracks), longest.name, len(longest.silhouettes))
        frames = longest.silhouettes
    else:
        frames = pretreat_sequence(_read_frames(path), pretreat)
    if len(frames) < pretreat.min_frames:
        raise DataError(
            f"{path}: only {len(frames)} usable frames after pretreatment (need at least {pretreat.min_frames})"
        )
    return frames
