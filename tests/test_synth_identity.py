"""Synthetic walkers: subjects differ, a subject is consistent, bags and coats change the silhouette."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from gaitreid.data.pretreat import pretreat_sequence
from gaitreid.synth import RenderConfig, SynthConfig, plan_jobs
from gaitreid.synth.dataset import make_subject, raw_sequence
from gaitreid.synth.gait import draw_gait, joint_angles
from gaitreid.synth.preview import write_preview

CFG = SynthConfig(subjects=5, seed=11, height=32, width=22, render=RenderConfig(raw_height=64, frames=(28, 30)))
VIEWS = ("036", "090", "144")


@pytest.fixture(scope="module")
def geis() -> dict[tuple[int, str, str], np.ndarray]:
    """Gait energy images [32*22] of nm-01, nm-02, bg-01, cl-01 at three views for five subjects."""
    wanted = {"nm-01", "nm-02", "bg-01", "cl-01"}
    out, subjects = {}, {}
    for job in plan_jobs(CFG):
        if job.key.condition in wanted and job.key.view in VIEWS:
            subject = subjects.setdefault(job.subject_index, make_subject(CFG, job.subject_index))
            frames = pretreat_sequence(raw_sequence(CFG, job, subject), CFG.pretreat)
            out[(job.subject_index, job.key.condition, job.key.view)] = frames.mean(0).ravel() / 255.0
    return out


def _dist(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


def test_same_subject_is_closer_than_other_subjects(geis):
    within, between = [], []
    for v in VIEWS:
        for s in range(CFG.subjects):
            within.append(_dist(geis[(s, "nm-01", v)], geis[(s, "nm-02", v)]))
            between += [_dist(geis[(s, "nm-01", v)], geis[(o, "nm-02", v)]) for o in range(CFG.subjects) if o != s]
    assert np.mean(within) < 0.7 * np.mean(between)
    # and nearest-neighbour identification at the same view mostly works
    hits = [min(range(CFG.subjects), key=lambda o: _dist(geis[(s, "nm-01", v)], geis[(o, "nm-02", v)])) == s
            for v in VIEWS for s in range(CFG.subjects)]
    assert np.mean(hits) >= 0.8


def test_subjects_differ_in_body_and_gait():
    a, b = make_subject(CFG, 0), make_subject(CFG, 1)
    assert a.body != b.body
    assert a.gait.cycle_frames != b.gait.cycle_frames
    assert make_subject(CFG, 0).body == a.body  # drawn from the subject's own seed


@pytest.mark.parametrize("condition", ["bg-01", "cl-01"])
def test_bag_and_coat_change_the_silhouette(geis, condition):
    normal, changed = [], []
    for v in VIEWS:
        for s in range(CFG.subjects):
            normal.append(_dist(geis[(s, "nm-01", v)], geis[(s, "nm-02", v)]))
            changed.append(_dist(geis[(s, "nm-01", v)], geis[(s, condition, v)]))
    assert np.mean(changed) > 1.3 * np.mean(normal)


def test_coat_makes_the_silhouette_wider_in_the_side_view():
    cfg = replace(CFG, subjects=3)
    jobs = [j for j in plan_jobs(cfg) if j.key.view == "090" and j.key.condition in ("nm-01", "cl-01")]
    area = {}
    for job in jobs:
        raw = raw_sequence(cfg, job)
        area[(job.subject_index, job.key.condition)] = (raw > 0).sum() / len(raw)
    assert all(area[(s, "cl-01")] > 1.1 * area[(s, "nm-01")] for s in range(3))


def test_gait_angles_stay_in_human_ranges():
    rng = np.random.default_rng(0)
    phase = np.linspace(0, 1, 100, endpoint=False)
    for _ in range(50):
        a = joint_angles(draw_gait(rng), phase)
        hip, knee = np.degrees(a.hip_r), np.degrees(a.knee_r)
        assert 15 < hip.max() < 50 and -30 < hip.min() < 5
        assert knee.min() >= 0 and 40 < knee.max() < 90
        assert 0 < np.ptp(np.degrees(a.shoulder_r)) < 90


def test_preview_writes_a_png_and_a_gif(tmp_path):
    cfg = replace(CFG, subjects=2, render=RenderConfig(raw_height=64, frames=(10, 12)))
    sheet, gif = write_preview(tmp_path / "data", cfg, subjects=2)
    image = cv2.imread(str(sheet), cv2.IMREAD_GRAYSCALE)
    assert image.shape == (2 * (2 * 3 * 32 + 3), 2 * 11 * (22 + 2))  # 2 subjects x 3 rows + a separator, 2x
    ok, animation = cv2.imreadanimation(str(gif))
    assert ok and len(animation.frames) >= 10
