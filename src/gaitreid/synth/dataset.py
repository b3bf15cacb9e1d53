"""Generate a whole synthetic dataset with CASIA-B's structure and write it.

Labelled mode: subjects `001..N` x conditions `nm-01..06, bg-01..02, cl-01..02` x 11 views.
Unlabelled mode (for self-supervised pretraining): subjects `u00001..` (they cannot collide
with labelled ids), each with `sequences` random (condition, view) recordings, the view angle
drawn anywhere within +-9 degrees of the folder's nominal view.

Every subject, walk (subject x condition), sequence (walk x view) and camera (view) has its own
random generator, seeded from `SeedSequence(seed, spawn_key=(kind, ...numbers))`: output depends
only on the seed and the options, never on the number of worker processes or on the order the
work is done in; subject 7 is the same person in a 10-subject and in a 50-subject dataset.

Formats:
- `store`: pretreated `height x width` frames straight into a `SequenceStore`;
- `pkl`: OpenGait's layout `SUBJECT/COND/VIEW/VIEW.pkl`, pretreated square `height x height`
  frames like the real CASIA-B pkl files (the store builder then cuts them to `width`);
- `png`: CASIA-B's raw layout, one binary raw-resolution PNG per frame
  `SUBJECT/COND/VIEW/SUBJECT-COND-VIEW-NNN.png` (the store builder pretreats them).
"""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import asdict, dataclass, field
from typing import Iterator

import cv2
import numpy as np

from gaitreid.data.layout import CASIA_B_CONDITIONS, CASIA_B_VIEWS, SequenceKey
from gaitreid.data.pretreat import PretreatConfig, pretreat_sequence
from gaitreid.errors import ConfigError
from gaitreid.synth.sequence import CameraRig, RenderConfig, Subject, draw_subject, render_sequence


FORMATS = ("store", "pkl", "png")
# Bumped whenever the same options would give different data (part of `SynthConfig.to_dict()`,
# so caches keyed on it are rebuilt).
GENERATOR_VERSION = 4
_LABELLED, _UNLABELLED, _CAMERAS = 0, 1, 2
MANIFEST_NAME = "synth.json"


@dataclass(frozen=True)
class SynthConfig:
    """Everything that decides the generated dataset (same config => byte-identical output)."""

    subjects: int
    seed: int = 0
    height: int = 64
    width: int = 44
    unlabelled: bool = False
    sequences: int = 20  # per subject, unlabelled mode only
    first_subject: int = 1  # id of the first subject (to make disjoint sets from one seed)
    render: RenderConfig = field(default_factory=RenderConfig)

    def __post_init__(self) -> None:
        if self.subjects < 1:
            raise ConfigError(f"synth: --subjects must be >= 1, got {self.subjects}")
        if self.first_subject < 1:
            raise ConfigError(f"synth: first subject id must be >= 1, got {self.first_subject}")
        if not self.unlabelled and self.first_subject + self.subjects - 1 > 999:
            raise ConfigError("synth: labelled subject ids are 3 digits (CASIA-B layout): at most 999 subjects")
        combos = len(CASIA_B_CONDITIONS) * len(CASIA_B_VIEWS)
        if self.unlabelled and not 1 <= self.sequences <= combos:
            raise ConfigError(f"synth: --sequences must be in 1..{combos} (distinct condition x view), got {self.sequences}")
        if self.height < 16 or self.width < 8:
            raise ConfigError(f"synth: frame size {self.height}x{self.width} too small (min 16x8)")
        lo, hi = self.render.frames
        if not 8 <= lo <= hi:
            raise ConfigError(f"synth: frames per sequence must satisfy 8 <= min <= max, got {lo}..{hi}")
        if self.render.raw_height < 2 * self.height:
            raise ConfigError(f"synth: raw height {self.render.raw_height} must be at least twice the frame height {self.height}")

    @property
    def pretreat(self) -> PretreatConfig:
        return PretreatConfig(height=self.height, width=self.width)

    def to_dict(self) -> dict:
        return {"generator_version": GENERATOR_VERSION, **asdict(self)}


@dataclass(frozen=True)
class SequenceJob:
    """One sequence to make: its key, true view angle, and where its randomness comes from."""

    key: SequenceKey
    view_deg: float
    subject_index: int
    spawn_key: tuple[int, ...]


def subject_id(cfg: SynthConfig, index: int) -> str:
    number = cfg.first_subject + index
    return f"u{number:05d}" if cfg.unlabelled else f"{number:03d}"


def _rng(cfg: SynthConfig, spawn_key: tuple[int, ...]) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(cfg.seed, spawn_key=spawn_key))


def _mode(cfg: SynthConfig) -> int:
    return _UNLABELLED if cfg.unlabelled else _LABELLED


def make_subject(cfg: SynthConfig, index: int) -> Subject:
    """Subject number `first_subject + index`: the same person whatever the dataset size."""
    return draw_subject(_rng(cfg, (_mode(cfg), cfg.first_subject + index)))


def plan_jobs(cfg: SynthConfig) -> list[SequenceJob]:
    """Every sequence of the dataset, in the order they are written."""
    mode = _mode(cfg)
    jobs = []
    for s in range(cfg.subjects):
        number = cfg.first_subject + s
        sid = subject_id(cfg, s)
        if not cfg.unlabelled:
            for c, cond in enumerate(CASIA_B_CONDITIONS):
                for v, view in enumerate(CASIA_B_VIEWS):
                    jobs.append(SequenceJob(SequenceKey(sid, cond, view), float(view), s, (mode, number, c, v)))
            continue
        choice_rng = _rng(cfg, (mode, number, 1_000_000))
        combos = choice_rng.choice(len(CASIA_B_CONDITIONS) * len(CASIA_B_VIEWS), cfg.sequences, replace=False)
        for n, combo in enumerate(sorted(combos.tolist())):
            c, v = divmod(combo, len(CASIA_B_VIEWS))
            view = CASIA_B_VIEWS[v]
            angle = float(view) + float(choice_rng.uniform(-9.0, 9.0))
            jobs.append(SequenceJob(SequenceKey(sid, CASIA_B_CONDITIONS[c], view), angle, s, (mode, number, c, v)))
    return jobs


def camera_rig(cfg: SynthConfig, view: str) -> CameraRig:
    """The fixed camera of one view folder, shared by every sequence (labelled or not) of that view."""
    light_deg = float(_rng(cfg, (_CAMERAS, 1_000)).uniform(0.0, 360.0))  # one studio light
    return cfg.render.draw_rig(_rng(cfg, (_CAMERAS, CASIA_B_VIEWS.index(view))), light_deg)


def raw_sequence(cfg: SynthConfig, job: SequenceJob, subject: Subject | None = None) -> np.ndarray:
    """Raw silhouettes [T, raw_h, raw_w] uint8 of one job."""
    subject = subject or make_subject(cfg, job.subject_index)
    walk_rng = _rng(cfg, job.spawn_key[:3])  # (mode, subject, condition): the walk all views film
    return render_sequence(subject, job.key.condition_type, job.view_deg, camera_rig(cfg, job.key.view),
                           walk_rng, _rng(cfg, job.spawn_key), cfg.render)


# --- parallel generation -------------------------------------------------------------------

_WORKER_CFG: SynthConfig | None = None
_WORKER_FORMAT = "store"
_SUBJECT_CACHE: dict[int, Subject] = {}


def _init_worker(cfg: SynthConfig, fmt: str) -> None:
    global _WORKER_CFG, _WORKER_FORMAT
    _WORKER_CFG, _WORKER_FORMAT = cfg, fmt
    _SUBJECT_CACHE.clear()
    cv2.setNumThreads(1)


def _produce(job: SequenceJob) -> tuple[SequenceJob, np.ndarray]:
    """Worker: the frames to write for one job (raw for png, pretreated otherwise)."""
    cfg = _WORKER_CFG
    subject = _SUBJECT_CACHE.get(job.subject_index)
    if subject is None:
        _SUBJECT_CACHE.clear()  # jobs arrive grouped by subject
        subject = _SUBJECT_CACHE[job.subject_index] = make_subject(cfg, job.subject_index)
    raw = raw_sequence(cfg, job, subject)
    if _WORKER_FORMAT == "png":
        return job, raw
    size = cfg.height if _WORKER_FORMAT == "pkl" else cfg.width
    return job, pretreat_sequence(raw, PretreatConfig(height=cfg.height, width=size))



def generate(cfg: SynthConfig, fmt: str = "store", workers: int = 1) -> Iterator[tuple[SequenceKey, np.ndarray]]:
    """Yield (key, frames) for every sequence, in plan order, computed by `workers` processes."""
    if fmt not in FORMATS:
        raise ConfigError(f"synth: unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    jobs = plan_jobs(cfg)
    if workers <= 1:
        _init_worker(cfg, fmt)
        for job in jobs:
            yield job.key, _produce(job)[1]
        return
    ctx = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    with ctx.Pool(workers, initializer=_init_worker, initargs=(cfg, fmt)) as pool:
        for job, frames in pool.imap(_produce, jobs, chunksize=8):
            yield job.key, frames
