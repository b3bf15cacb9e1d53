"""People in foreground masks (connected components) and one track per person across frames.

Detection: components of a slightly dilated mask are grouped (so a leg or an arm separated by a
thin gap stays with its body), then kept when person-sized and upright.
Tracking: each detection joins the open track whose predicted box (last box moved by the
track's velocity) overlaps it most, else whose predicted centre is nearest (within a fraction of
the body height); unmatched detections start tracks; a track may miss `max_gap` frames (an
occluding pole, a bad mask) before it is closed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np


@dataclass(frozen=True)
class TrackingConfig:
    group_size: int = 9  # dilation (pixels) that joins nearby fragments of one person
    min_height_fraction: float = 0.2  # a person is at least this fraction of the frame height
    min_aspect: float = 1.0  # ... and at least as tall as wide
    min_fill: float = 0.15  # foreground pixels / box area (rejects thin noise outlines)
    min_iou: float = 0.2  # box overlap that continues a track
    max_jump: float = 0.6  # else: centre distance (in body heights) that still continues it
    max_gap: int = 5  # frames a track may miss before it is closed
    border_margin: int = 2  # boxes this close to the left/right edge are partly outside the view


@dataclass(frozen=True)
class Detection:
    box: tuple[int, int, int, int]  # x, y, w, h in frame pixels
    mask: np.ndarray  # [h, w] uint8 0/255: the person's pixels inside the box
    touches_border: bool  # partly outside the picture: tracked, but not a usable silhouette

    @property
    def centre(self) -> np.ndarray:
        x, y, w, h = self.box
        return np.array([x + w / 2.0, y + h / 2.0])


def detect_people(mask: np.ndarray, cfg: TrackingConfig = TrackingConfig()) -> list[Detection]:
    """Person-like blobs in one binary mask [H, W] (0/255)."""
    height, width = mask.shape
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (cfg.group_size, cfg.group_size))
    grouped = cv2.dilate(mask, kernel) if cfg.group_size > 1 else mask
    count, labels, _, _ = cv2.connectedComponentsWithStats(grouped, connectivity=8)
    found = []
    for label in range(1, count):
        person = (labels == label) & (mask > 0)  # the true pixels of this group
        ys, xs = np.nonzero(person)
        if len(ys) == 0:
            continue
        x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
        w, h = int(x1 - x0), int(y1 - y0)
        if h < cfg.min_height_fraction * height or h < cfg.min_aspect * w or len(ys) < cfg.min_fill * w * h:
            continue
        crop = np.where(person[y0:y1, x0:x1], 255, 0).astype(np.uint8)
        touches = x0 <= cfg.border_margin or x1 >= width - cfg.border_margin or y0 <= 0 or y1 >= height
        found.append(Detection((int(x0), int(y0), w, h), crop, bool(touches)))
    return found


def box_iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union else 0.0


@dataclass
class Track:
    """One person's detections over time."""

    track_id: int
    frames: list[int] = field(default_factory=list)
    detections: list[Detection] = field(default_factory=list)

    @property
    def last_frame(self) -> int:
        return self.frames[-1]

    def velocity(self) -> np.ndarray:
        """Centre displacement per frame over the last few detections."""
        if len(self.frames) < 2:
            return np.zeros(2)
        first = max(0, len(self.frames) - 5)
        span = self.frames[-1] - self.frames[first]
        return (self.detections[-1].centre - self.detections[first].centre) / max(span, 1)

    def predicted_box(self, frame: int) -> tuple[int, int, int, int]:
        x, y, w, h = self.detections[-1].box
        dx, dy = self.velocity() * (frame - self.last_frame)
        return (int(round(x + dx)), int(round(y + dy)), w, h)


class Tracker:
    """Greedy frame-by-frame association of detections to tracks."""

    def __init__(self, cfg: TrackingConfig = TrackingConfig()):
        self.cfg = cfg
        self.open: list[Track] = []
        self.closed: list[Track] = []
        self._next_id = 1

    def update(self, frame: int, detections: list[Detection]) -> None:
        for track in [t for t in self.open if frame - t.last_frame > self.cfg.max_gap + 1]:
            self.open.remove(track)
            self.closed.append(track)
        pairs = []  # (score, track, detection); higher score = better match
        for ti, track in enumerate(self.open):
            predicted = track.predicted_box(frame)
            centre = np.array([predicted[0] + predicted[2] / 2.0, predicted[1] + predicted[3] / 2.0])
            for di, det in enumerate(detections):
                iou = box_iou(predicted, det.box)
                jump = np.linalg.norm(det.centre - centre) / max(det.box[3], 1)
                if iou >= self.cfg.min_iou:
                    pairs.append((1.0 + iou, ti, di))
                elif jump <= self.cfg.max_jump:
                    pairs.append((1.0 - jump, ti, di))
        used_tracks, used_detections = set(), set()
        for _, ti, di in sorted(pairs, reverse=True):
            if ti in used_tracks or di in used_detections:
                continue
            used_tracks.add(ti)
            used_detections.add(di)
            self.open[ti].frames.append(frame)
            self.open[ti].detections.append(detections[di])
        for di, det in enumerate(detections):
            if di not in used_detections:
                self.open.append(Track(self._next_id, [frame], [det]))
                self._next_id += 1

    def finish(self) -> list[Track]:
        """Every track, in the order they started."""
        tracks = self.closed + self.open
        self.closed, self.open = tracks, []
        return sorted(tracks, key=lambda t: t.track_id)
