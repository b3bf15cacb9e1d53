"""The standard gait silhouette pretreatment: every frame becomes a person of fixed height, centred.

Per frame:
1. drop it when it holds too little foreground (an empty or near-empty frame);
2. crop to the rows that hold the person (any non-zero pixel);
3. resize to `height` rows keeping the aspect ratio;
4. centre horizontally on the column where the cumulative foreground mass first exceeds half;
5. pad with zeros and cut to `width` columns.

Applied to OpenGait's already pretreated 64 x 64 frames (person rows 0..63, half-mass column 32)
this changes nothing but the resize and the side cut: at 64 x 44 it is the classic cut of 10
columns from each side (see tests/test_data_pretreat.py for what holds on real data).

The work is vectorised per group of frames that share the same row crop (in pretreated data that
is usually the whole sequence): masks, crops and centring are whole-array operations; only the
resize is one cv2 call per frame.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from gaitreid.errors import ConfigError

@dataclass(frozen=True)
class PretreatConfig:
    """Output size and the thresholds that decide which frames and sequences are usable."""

    height: int = 64
    width: int = 44
    # A frame is kept when its foreground mass (sum of pixels / 255, i.e. in "full pixels") is at
    # least this many pixels ... (about OpenGait's raw-frame threshold of a pixel sum of 10000)
    min_foreground_pixels: float = 40.0
    # ... and at least this fraction of the input frame's area.
    min_foreground_fraction: float = 0.0
    # A sequence with fewer usable frames than this is unusable.
    min_frames: int = 5

    def __post_init__(self) -> None:
        if self.height < 4 or self.width < 4:
            raise ConfigError(f"pretreat size {self.height}x{self.width} too small (min 4x4)")
        if self.min_frames < 1:
            raise ConfigError(f"pretreat min_frames must be >= 1, got {self.min_frames}")
        if not 0.0 <= self.min_foreground_fraction < 1.0:
            raise ConfigError(f"pretreat min_foreground_fraction must be in [0, 1), got {self.min_foreground_fraction}")
        if self.min_foreground_pixels < 0:
            raise ConfigError(f"pretreat min_foreground_pixels must be >= 0, got {self.min_foreground_pixels}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "PretreatConfig":
        known = {k: values[k] for k in cls.__dataclass_fields__ if k in values}
        return cls(**known)


def foreground_mask(frames: np.ndarray, cfg: PretreatConfig) -> np.ndarray:
    """[T] bool: which frames hold enough foreground to be kept."""
    return _enough_foreground(frames.sum(axis=(1, 2), dtype=np.uint64), frames.shape[1:], cfg)


def _enough_foreground(pixel_sums: np.ndarray, frame_shape: tuple[int, int], cfg: PretreatConfig) -> np.ndarray:
    mass = pixel_sums / 255.0  # [T] in full pixels
    area = frame_shape[0] * frame_shape[1]
    return (mass > 0) & (mass >= cfg.min_foreground_pixels) & (mass >= cfg.min_foreground_fraction * area)


def pretreat_sequence(frames: np.ndarray, cfg: PretreatConfig = PretreatConfig()) -> np.ndarray:
    """[T, H, W] uint8 silhouettes -> [T', cfg.height, cfg.width] uint8, unusable frames dropped.

    T' may be 0 (all frames empty); deciding whether the sequence is long enough is the
    caller's job (`cfg.min_frames`), so the reason can be reported with the sequence's path.
    """
    frames = np.asarray(frames)
    if frames.ndim != 3:
        raise ValueError(f"expected frames [T, H, W], got shape {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"expected uint8 frames, got {frames.dtype}")
    # Column sums serve twice: the frame's total mass, and (when no resize is needed) the centring.
    column_mass = frames.sum(axis=1, dtype=np.uint32)  # [T, W]; 255 * 65535 rows still fits
    usable = _enough_foreground(column_mass.sum(axis=1, dtype=np.uint64), frames.shape[1:], cfg)
    if not usable.all():
        frames, column_mass = frames[usable], column_mass[usable]
    out = np.zeros((len(frames), cfg.height, cfg.width), dtype=np.uint8)
    if len(frames) == 0:
        return out

    rows_occupied = frames.any(axis=2)  # [T', H]
    tops = rows_occupied.argmax(axis=1)
    bottoms = rows_occupied.shape[1] - rows_occupied[:, ::-1].argmax(axis=1)  # exclusive
    # Frames that share a row crop share the resized width: process each such group at once.
    crops = np.stack([tops, bottoms], axis=1)
    unique_crops, group_of_frame = np.unique(crops, axis=0, return_inverse=True)
    group_of_frame = group_of_frame.reshape(-1)
    for g, (top, bottom) in enumerate(unique_crops):
        if len(unique_crops) == 1:  # the usual case for pretreated data: no gather, no scatter
            members = slice(None)
        else:
            members = np.flatnonzero(group_of_frame == g)
        cropped = frames[members, top:bottom, :]
        resized = _resize_to_height(cropped, cfg.height)  # [n, height, w']
        # rows outside the crop are empty, so the uncropped column sums are the cropped ones
        known_mass = column_mass[members] if resized is cropped else None
        out[members] = _centre_and_cut(resized, cfg.width, known_mass)
    return out


def _resize_to_height(frames: np.ndarray, height: int) -> np.ndarray:
    """[n, h, w] -> [n, height, round(w * height / h)], aspect ratio kept (the input itself if no change).

    One cv2.resize per frame: measured faster than resizing frames as channels of one image,
    and cv2's many-channel INTER_AREA path rounds differently from its one-channel path.
    """
    n, h, w = frames.shape
    new_w = max(1, int(round(w * height / h)))
    if (h, w) == (height, new_w):
        return frames
    interpolation = cv2.INTER_AREA if h > height else cv2.INTER_LINEAR
    out = np.empty((n, height, new_w), dtype=np.uint8)
    for i in range(n):
        cv2.resize(frames[i], (new_w, height), dst=out[i], interpolation=interpolation)
    return out


def half_mass_columns(frames: np.ndarray) -> np.ndarray:
    """[n, h, w] -> [n]: the first column where the cumulative foreground mass exceeds half."""
    return _half_mass_columns(frames.sum(axis=1, dtype=np.uint32))


def _half_mass_columns(column_mass: np.ndarray) -> np.ndarray:
    cumulative = column_mass.cumsum(axis=1, dtype=np.uint64)  # [n, w]
    half = cumulative[:, -1:] / 2.0
    return (cumulative > half).argmax(axis=1)


def _centre_and_cut(frames: np.ndarray, width: int, column_mass: np.ndarray | None = None) -> np.ndarray:
    """[n, h, w'] -> [n, h, width]: the half-mass column lands on column width // 2.

    Frames are grouped by centre column (in a walking sequence only a few distinct values), so
    each group is one slice copy rather than a per-pixel gather.
    """
    n, h, w = frames.shape
    centres = half_mass_columns(frames) if column_mass is None else _half_mass_columns(column_mass)  # [n]
    out = np.zeros((n, h, width), dtype=np.uint8)
    distinct = np.unique(centres)
    for centre in distinct:
        first = int(centre) - width // 2  # source column that lands on output column 0
        src_lo, src_hi = max(first, 0), min(first + width, w)
        members = slice(None) if len(distinct) == 1 else centres == centre
        out[members, :, src_lo - first : src_hi - first] = frames[members, :, src_lo:src_hi]
    return out
