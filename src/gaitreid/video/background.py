"""Foreground masks from a static camera: OpenCV background subtraction plus morphological clean-up.

The background model is warmed up on frames sampled across the WHOLE video before any frame is
segmented: a person walking across the view covers each pixel for only a few frames, so the
sampled frames' dominant appearance per pixel is the empty scene, even when someone is in view
from the very first frame. Segmentation then adapts slowly (small learning rate) so a person is
not absorbed into the background while they walk.

Shadows: MOG2 and KNN mark shadow pixels with 127 (darker but same colour); only 255 counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from gaitreid.errors import ConfigError, DataError

FOREGROUND = 255  # value of a foreground pixel in the subtractors' output (shadows are 127)


@dataclass(frozen=True)
class BackgroundConfig:
    method: str = "mog2"  # "mog2" or "knn"
    warmup_frames: int = 150  # frames sampled evenly across the video to learn the empty scene
    warmup_passes: int = 2  # times the sampled frames are fed in
    learning_rate: float = 0.002  # while segmenting (0: frozen background)
    var_threshold: float = 25.0  # MOG2: squared Mahalanobis distance that makes a pixel foreground
    knn_distance: float = 600.0  # KNN: squared distance threshold
    detect_shadows: bool = True
    open_size: int = 3  # removes speckle noise (pixels)
    close_size: int = 7  # joins a body broken by similar-coloured background
    blur_size: int = 3  # median blur of the input frame against sensor/compression noise

    def __post_init__(self) -> None:
        if self.method not in ("mog2", "knn"):
            raise ConfigError(f"background method must be mog2 or knn, got {self.method!r}")
        if self.warmup_frames < 1 or self.warmup_passes < 1:
            raise ConfigError("background warm-up needs at least one frame and one pass")


def open_video(path: str | Path) -> cv2.VideoCapture:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such video file")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise DataError(f"{path}: cannot open as a video (unreadable file or unsupported codec)")
    return capture


def iter_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Every frame of the video (BGR uint8), in order."""
    capture = open_video(path)
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield frame
    finally:
        capture.release()


def sample_frames(path: str | Path, count: int) -> tuple[list[np.ndarray], int]:
    """About `count` frames spread evenly over the whole video (one pass), and the frame total.

    Keeps every `stride`-th frame; when more than 2*count are kept the stride doubles and every
    other kept frame is dropped, so memory stays bounded whatever the video length.
    """
    kept: list[np.ndarray] = []
    stride, total = 1, 0
    for index, frame in enumerate(iter_frames(path)):
        total += 1
        if index % stride == 0:
            kept.append(frame)
            if len(kept) > 2 * count:
                kept = kept[::2]
                stride *= 2
    return kept, total


class ForegroundSegmenter:
    """Frame (BGR) -> binary foreground mask uint8 0/255, after warming up on sampled frames."""

    def __init__(self, warmup: list[np.ndarray], cfg: BackgroundConfig = BackgroundConfig()):
        self.cfg = cfg
        if cfg.method == "mog2":
            self.subtractor = cv2.createBackgroundSubtractorMOG2(
                history=max(len(warmup) * cfg.warmup_passes, 10), varThreshold=cfg.var_threshold,
                detectShadows=cfg.detect_shadows)
        else:
            self.subtractor = cv2.createBackgroundSubtractorKNN(
                history=max(len(warmup) * cfg.warmup_passes, 10), dist2Threshold=cfg.knn_distance,
                detectShadows=cfg.detect_shadows)
        for _ in range(cfg.warmup_passes):
            for frame in warmup:
                self.subtractor.apply(self._prepare(frame), learningRate=-1)
        self._open = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (cfg.open_size, cfg.open_size))
        self._close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (cfg.close_size, cfg.close_size))

    def _prepare(self, frame: np.ndarray) -> np.ndarray:
        return cv2.medianBlur(frame, self.cfg.blur_size) if self.cfg.blur_size > 1 else frame

    def mask(self, frame: np.ndarray) -> np.ndarray:
        raw = self.subtractor.apply(self._prepare(frame), learningRate=self.cfg.learning_rate)
        mask = np.where(raw == FOREGROUND, 255, 0).astype(np.uint8)  # shadows (127) dropped
        if self.cfg.open_size > 1:
            mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._open)
        if self.cfg.close_size > 1:
            mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, self._close)
        return fill_holes(mask)


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill background regions that do not touch the image border (holes inside a body)."""
    padded = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    outside = padded.copy()
    flood = np.zeros((padded.shape[0] + 2, padded.shape[1] + 2), dtype=np.uint8)
    cv2.floodFill(outside, flood, (0, 0), 255)
    holes = cv2.bitwise_not(outside)[1:-1, 1:-1]
    return cv2.bitwise_or(mask, holes)
