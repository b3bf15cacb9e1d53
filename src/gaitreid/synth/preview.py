"""Look at the generator's output: a PNG contact sheet and an animated GIF of a few walkers.

Contact sheet: one row per (subject, condition) for a few subjects and nm-01 / bg-01 / cl-01,
one column per view, each cell a pretreated frame taken at the same gait moment; a grey line
separates subjects. GIF: a grid of walkers (rows: subjects; columns: nm at 000, 036, 090, 144
and bg, cl at 090) animated over their frames. Both are rendered directly from the
generator (the same sequences the dataset holds), so they work for every output format.
OpenCV writes both files (its animation writer makes the GIF; no extra dependency).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from gaitreid.data.layout import CASIA_B_VIEWS
from gaitreid.data.pretreat import pretreat_sequence
from gaitreid.synth.dataset import SynthConfig, make_subject, plan_jobs, raw_sequence

SHEET_CONDITIONS = ("nm-01", "bg-01", "cl-01")
GIF_CELLS = (("nm-01", "000"), ("nm-01", "036"), ("nm-01", "090"), ("nm-01", "144"), ("bg-01", "090"), ("cl-01", "090"))


def _sequences(cfg: SynthConfig, wanted: set[tuple[int, str, str]]) -> dict[tuple[int, str, str], np.ndarray]:
    """Pretreated frames of the wanted (subject index, condition, view) of a labelled dataset."""
    labelled = replace(cfg, unlabelled=False, subjects=max(s for s, _, _ in wanted) + 1)
    out, subjects = {}, {}
    for job in plan_jobs(labelled):
        name = (job.subject_index, job.key.condition, job.key.view)
        if name not in wanted:
            continue
        subject = subjects.setdefault(job.subject_index, make_subject(labelled, job.subject_index))
        out[name] = pretreat_sequence(raw_sequence(labelled, job, subject), labelled.pretreat)
    return out


def contact_sheet(cfg: SynthConfig, subjects: int = 4, scale: int = 2) -> np.ndarray:
    """[rows * height, views * width] uint8 image (before the `scale` up-sampling)."""
    wanted = {(s, c, v) for s in range(subjects) for c in SHEET_CONDITIONS for v in CASIA_B_VIEWS}
    seqs = _sequences(cfg, wanted)
    h, w = cfg.height, cfg.width
    rows = []
    for s in range(subjects):
        for c in SHEET_CONDITIONS:
            cells = []
            for v in CASIA_B_VIEWS:
                frames = seqs[(s, c, v)]
                cells.append(frames[len(frames) // 3])
                cells.append(np.full((h, 2), 90, np.uint8))
            rows.append(np.concatenate(cells, 1))
        rows.append(np.full((3, rows[-1].shape[1]), 160, np.uint8))
    sheet = np.concatenate(rows[:-1], 0)
    return cv2.resize(sheet, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)


def animation_frames(cfg: SynthConfig, subjects: int = 3, scale: int = 2) -> list[np.ndarray]:
    """Frames of the walker grid, each [rows * height, cells * width] uint8, upsampled by `scale`."""
    wanted = {(s, c, v) for s in range(subjects) for c, v in GIF_CELLS}
    seqs = _sequences(cfg, wanted)
    length = min(len(f) for f in seqs.values())
    gap = np.full((cfg.height, 2), 90, np.uint8)
    frames = []
    for t in range(length):
        rows = []
        for s in range(subjects):
            rows.append(np.concatenate([x for c, v in GIF_CELLS for x in (seqs[(s, c, v)][t], gap)], 1))
        grid = np.concatenate(rows, 0)
        frames.append(cv2.resize(grid, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST))
    return frames


def write_preview(out: str | Path, cfg: SynthConfig, subjects: int = 4) -> list[Path]:
    """Write `OUT.preview.png` and `OUT.preview.gif` beside OUT; returns their paths."""
    out = Path(out)
    sheet_path = out.with_name(out.name + ".preview.png")
    gif_path = out.with_name(out.name + ".preview.gif")
    subjects = min(subjects, cfg.subjects)
    if not cv2.imwrite(str(sheet_path), contact_sheet(cfg, subjects)):
        raise OSError(f"{sheet_path}: could not write the contact sheet")
    animation = cv2.Animation()
    animation.frames = [cv2.cvtColor(f, cv2.COLOR_GRAY2BGR) for f in animation_frames(cfg, min(3, subjects))]
    animation.durations = [40] * len(animation.frames)  # 25 fps, like CASIA-B
    animation.loop_count = 0
    if not cv2.imwriteanimation(str(gif_path), animation):
        raise OSError(f"{gif_path}: could not write the animation")
    return [sheet_path, gif_path]
