"""Video of people walking past a static camera -> one pretreated silhouette sequence per person.

    tracks = extract_tracks("street.avi")          # background subtraction, clean-up, tracking
    write_tracks(tracks, "out/")                   # out/track-001/0000.png ...

What it can do: a fixed camera, a scene that is mostly static (slow light changes are followed),
people walking across the view, one or several at a time as long as they do not overlap.
What it cannot: a moving or shaking camera, crowds or people crossing each other (two
overlapping people become one blob), someone standing still for long (they fade into the
background), strong moving shadows or reflections that OpenCV's shadow test misses.

Frames where the person touches the picture's left/right edge (walking in or out) are tracked
but not written: their silhouettes are cut off.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from gaitreid.data.pretreat import PretreatConfig, pretreat_sequence
from gaitreid.errors import DataError
from gaitreid.video.background import BackgroundConfig, ForegroundSegmenter, iter_frames, sample_frames
from gaitreid.video.tracking import Track, Tracker, TrackingConfig, detect_people

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExtractConfig:
    pretreat: PretreatConfig = field(default_factory=PretreatConfig)
    background: BackgroundConfig = field(default_factory=BackgroundConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    min_track_frames: int = 10  # usable (whole-body) frames a track needs to be written


@dataclass
class ExtractedTrack:
    """One person: where they were in each usable frame, and their pretreated silhouettes."""

    name: str  # track-001, ...
    frame_indices: np.ndarray  # [T] video frame of each usable detection
    boxes: np.ndarray  # [T, 4] x, y, w, h in video pixels
    masks: list[np.ndarray]  # T raw masks [h, w] uint8 0/255 (inside each box)
    silhouettes: np.ndarray  # [T', height, width] uint8: pretreated (unusable frames dropped)


def extract_tracks(video: str | Path, cfg: ExtractConfig = ExtractConfig()) -> list[ExtractedTrack]:
    """Every walking person found in `video`; DataError when it is unreadable, empty, or holds nobody."""
    video = Path(video)
    warmup, total = sample_frames(video, cfg.background.warmup_frames)
    if total == 0:
        raise DataError(f"{video}: the video has no frames (empty, or a codec OpenCV cannot decode)")
    segmenter = ForegroundSegmenter(warmup, cfg.background)
    tracker = Tracker(cfg.tracking)
    for index, frame in enumerate(iter_frames(video)):
        tracker.update(index, detect_people(segmenter.mask(frame), cfg.tracking))
    tracks = [_finish(track, cfg) for track in tracker.finish()]
    found = [t for t in tracks if t is not None]
    if not found:
        raise DataError(
            f"{video}: no walking person found in {total} frames (needs a static camera and a person "
            f"fully in view, upright, for at least {cfg.min_track_frames} frames)"
        )
    for number, track in enumerate(found, 1):
        track.name = f"track-{number:03d}"
    return found


def _finish(track: Track, cfg: ExtractConfig) -> ExtractedTrack | None:
    usable = [(f, d) for f, d in zip(track.frames, track.detections) if not d.touches_border]
    if len(usable) < max(cfg.min_track_frames, cfg.pretreat.min_frames):
        log.debug("track %d: %d whole-body frames, too short (dropped)", track.track_id, len(usable))
        return None
    # crops differ in size, so each is pretreated on its own (centred, scaled to the model's height)
    silhouettes = [pretreat_sequence(d.mask[None], cfg.pretreat) for _, d in usable]
    silhouettes = np.concatenate(silhouettes, axis=0)
    if len(silhouettes) < max(cfg.min_track_frames, cfg.pretreat.min_frames):
        return None
    return ExtractedTrack(
        name="",
        frame_indices=np.array([f for f, _ in usable], dtype=np.int64),
        boxes=np.array([d.box for _, d in usable], dtype=np.int64),
        masks=[d.mask for _, d in usable],
        silhouettes=silhouettes,
    )


def write_tracks(tracks: list[ExtractedTrack], out: str | Path, condition: str | None = None,
                 view: str | None = None) -> list[Path]:
    """Write each track's silhouettes as PNG frames; returns the sequence folders.

    Default layout: OUT/<track>/0000.png (a folder per sequence, as `enrol` reads). With a
    condition and view: OUT/<track>/<condition>/<view>/0000.png, a SUBJECT/CONDITION/VIEW tree
    (layout "any") that `build_store` and `calibrate` read, with tracks as subjects.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is not a folder")
    folders = []
    for track in tracks:
        folder = out / track.name
        if condition or view:
            folder = folder / (condition or "nm-01") / (view or "090")
        if folder.exists() and any(folder.iterdir()):
            raise DataError(f"{folder}: already holds files; choose an empty output folder")
        folder.mkdir(parents=True, exist_ok=True)
        for i, frame in enumerate(track.silhouettes):
            if not cv2.imwrite(str(folder / f"{i:04d}.png"), frame):
                raise DataError(f"{folder / f'{i:04d}.png'}: cannot write")
        folders.append(folder)
    return folders
