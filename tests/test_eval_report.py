"""The report: files written, tables in them, tolerant of odd training logs; the evaluate pipeline
on a tiny in-memory store; and (slow) the page as headless Chromium renders it."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile

import numpy as np
import pytest

from gaitreid.data.layout import CASIA_B_CONDITIONS, SequenceKey
from gaitreid.evaluation.casia_b import casia_b_protocol
from gaitreid.evaluation.pipeline import evaluate_store
from gaitreid.evaluation.report import read_metrics_log, write_report
from gaitreid.evaluation.splits import Split

VIEWS = ("000", "090", "180")


class TinyStore:
    """The part of the SequenceStore contract evaluation uses, holding a few made-up sequences.

    Each subject walks as a bright rectangle whose width is its own and whose height depends on
    the view, so GEIs differ between subjects and views.
    """

    path = "tiny-store"

    def __init__(self, subjects, frames=6, height=16, width=12):
        self.keys = [SequenceKey(s, c, v) for s in subjects for c in CASIA_B_CONDITIONS for v in VIEWS]
        self.frame_shape = (height, width)
        self.lengths = np.full(len(self.keys), frames)
        self._frames = []
        for key in self.keys:
            seq = np.zeros((frames, height, width), dtype=np.uint8)
            w = 2 + subjects.index(key.subject) % (width - 3)
            h = 8 + VIEWS.index(key.view) * 3
            seq[:, height - h :, 1 : 1 + w] = 255
            seq[::2, 0, :] = 128  # some flicker
            self._frames.append(seq)

    @property
    def subjects(self):
        return sorted({k.subject for k in self.keys})

    def __len__(self):
        return len(self.keys)

    def indices(self, subjects=None, conditions=None, views=None):
        return np.array(
            [i for i, k in enumerate(self.keys)
             if (subjects is None or k.subject in subjects)
             and (conditions is None or k.condition in conditions)
             and (views is None or k.view in views)], dtype=np.int64)

    def frames(self, i):
        return self._frames[i]


def subject_embedding(store, indices):
    """A stand-in for a trained model: the subject's number plus view-dependent noise, [N, 4, 2]."""
    rng = np.random.default_rng(1)
    out = []
    for i in indices:
        key = store.keys[int(i)]
        base = np.zeros((4, 2))
        base[int(key.subject) % 4, 0] = 3.0
        base[int(key.subject) // 4 % 4, 1] = 3.0
        out.append(base + rng.normal(scale=0.8, size=(4, 2)))
    return np.stack(out).astype(np.float32)


def tiny_result():
    keys = [SequenceKey(f"{s:03d}", c, v) for s in range(1, 4) for c in CASIA_B_CONDITIONS for v in VIEWS]
    emb = np.random.default_rng(0).normal(size=(len(keys), 3, 2))
    return casia_b_protocol(emb, keys)


def write_log(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")


def test_report_files_contain_the_table(tmp_path):
    result = tiny_result()
    paths = write_report(tmp_path, result, title="tiny run", info={"model": "random"})
    assert set(paths) == {"metrics", "markdown", "html"}
    metrics = json.loads(paths["metrics"].read_text())
    assert metrics["rank1"]["nm"] == pytest.approx(result.condition_rank1["nm"], abs=1e-4)
    assert metrics["info"]["model"] == "random"
    md = paths["markdown"].read_text()
    assert "| probe | 000° | 090° | 180° | mean |" in md
    assert f"| NM | " in md and f"**{result.condition_rank1['cl']:.1f}**" in md
    page = paths["html"].read_text()
    assert "<table class='protocol'>" in page and "tiny run" in page
    assert page.count("data:image/png;base64,") >= 2  # per-view plot + heatmaps, embedded
    assert "src='http" not in page and 'src="http' not in page  # self-contained
    assert "No training log" in page


def test_empty_figures_still_give_valid_json(tmp_path):
    # a probe type whose probes never have a match: NaN cells and a NaN CMC must not break metrics.json
    keys = [SequenceKey("001", "nm-01", "000"), SequenceKey("002", "cl-01", "090")]
    result = casia_b_protocol(np.array([[0.0], [1.0]])[:, :, None], keys, unmatched="skip")
    write_report(tmp_path, result, cmc={"cl": [float("nan")] * 3})
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["cmc"]["cl"] == [None, None, None] and metrics["rank1"]["cl"] is None


def test_training_logs_are_read_tolerantly(tmp_path):
    write_log(tmp_path / "ssl" / "metrics.jsonl", [
        {"phase": "ssl", "step": 10, "loss": 2.0, "lr": 0.1, "wall_time": 100.0},
        "not json at all",
        {"phase": "ssl", "step": 20, "loss": float("nan")},  # json.dumps writes NaN; the value is dropped
        {"phase": "ssl", "no_step": 1},
        {"phase": "ssl", "step": 20, "val_rank1": 50.0},
    ])
    write_log(tmp_path / "supervised" / "metrics.jsonl", [
        {"phase": "supervised", "step": 5, "loss": 1.0, "wall_time": 200.0},  # steps restart
        {"phase": "supervised", "step": 10, "loss": 0.5},
    ])
    from gaitreid.evaluation.report import find_metrics_logs

    logs = find_metrics_logs(tmp_path)
    assert [p.parent.name for p in logs] == ["ssl", "supervised"]
    records, skipped = read_metrics_log(logs)
    assert skipped == 2
    assert [r["x"] for r in records] == [10, 20, 20, 25, 30]
    assert "loss" not in records[1] and records[2]["val_rank1"] == 50.0
    page = write_report(tmp_path, tiny_result())["html"].read_text()
    assert "Training curves" in page and "2 unreadable log lines" in page
    assert "supervised" in (tmp_path / "report.md").read_text()


def test_evaluate_store_end_to_end(tmp_path):
    subjects = [f"{i:03d}" for i in range(1, 9)]
    store = TinyStore(subjects)
    split = Split("tiny/half", "tiny", "", tuple(subjects[:4]), tuple(subjects[4:]))
    seen = {}

    def embed(store_, indices):
        seen["indices"] = np.asarray(indices)
        return subject_embedding(store_, indices)

    evaluation = evaluate_store(embed, store, split, out_dir=tmp_path, num_rank_lists=4)
    tested = {store.keys[i].subject for i in seen["indices"]}
    assert tested == set(subjects[4:])  # only test subjects are embedded
    assert evaluation.protocol.subjects == tuple(subjects[4:])
    assert evaluation.baseline is not None and set(evaluation.cross_view) == {"nm", "bg", "cl"}
    assert 1 <= len(evaluation.rank_lists) <= 4
    for entry in evaluation.rank_lists:
        assert entry.image.shape == store.frame_shape
        assert len(entry.matches) == 5 and all(m.key.view != entry.probe.view for m in entry.matches)
        assert all(m.correct == (m.key.subject == entry.probe.subject) for m in entry.matches)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["split"] == "tiny/half" and "cmc" in metrics and "baseline" in metrics
    assert "Rank lists" in (tmp_path / "report.html").read_text()


@pytest.mark.slow
def test_chromium_renders_the_table(tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("headless Chromium is not installed (Debian package 'chromium')")
    result = tiny_result()
    page = write_report(tmp_path, result, title="rendered run")["html"]
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", "--disable-sync", f"--user-data-dir={profile}",
             "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=120,
        ).stdout
        shot = tmp_path / "shot.png"
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", "--disable-sync", f"--user-data-dir={profile}",
             f"--screenshot={shot}", "--window-size=1400,2000", page.as_uri()],
            capture_output=True, timeout=120,
        )
    assert "Rank-1 accuracy (%) per probe view" in dom
    assert "<table class=\"protocol\">" in dom
    assert f"{result.condition_rank1['bg']:.1f}" in dom
    assert shot.is_file() and shot.stat().st_size > 10_000  # a real picture, not a blank page
