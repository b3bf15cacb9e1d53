"""Synthetic dataset: determinism, structure in every format, readable by the data readers/store."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from gaitreid.cli.main import main as cli_main
from gaitreid.data.layout import CASIA_B_CONDITIONS, CASIA_B_VIEWS
from gaitreid.data.store import SequenceStore
from gaitreid.errors import ConfigError
from gaitreid.synth import RenderConfig, SynthConfig, generate, plan_jobs, write_dataset

TINY = SynthConfig(subjects=2, seed=5, height=32, width=22, render=RenderConfig(raw_height=64, frames=(10, 12)))


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("fmt", ["store", "pkl"])
def test_same_seed_and_options_give_byte_identical_output(tmp_path, fmt):
    cfg = replace(TINY, subjects=1)
    write_dataset(tmp_path / "a", cfg, fmt=fmt)
    write_dataset(tmp_path / "b", cfg, fmt=fmt)
    a, b = _tree_bytes(tmp_path / "a"), _tree_bytes(tmp_path / "b")
    assert a.keys() == b.keys() and len(a) > 0
    assert all(a[name] == b[name] for name in a)


def test_output_does_not_depend_on_worker_count():
    cfg = replace(TINY, subjects=1)
    serial = list(generate(cfg, "store", workers=1))
    parallel = list(generate(cfg, "store", workers=2))
    assert [k for k, _ in serial] == [k for k, _ in parallel]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(serial, parallel))


def test_different_seed_gives_different_data():
    a = next(generate(TINY, "store"))[1]
    b = next(generate(replace(TINY, seed=6), "store"))[1]
    assert a.shape != b.shape or not np.array_equal(a, b)


def test_store_has_every_condition_and_view(tmp_path):
    write_dataset(tmp_path / "store", TINY, fmt="store")
    store = SequenceStore.open(tmp_path / "store")
    assert len(store) == 2 * len(CASIA_B_CONDITIONS) * len(CASIA_B_VIEWS)
    assert store.frame_shape == (32, 22)
    assert store.subjects == ["001", "002"]
    assert {(k.condition, k.view) for k in store.keys} == {(c, v) for c in CASIA_B_CONDITIONS for v in CASIA_B_VIEWS}
    assert ((store.lengths >= 5) & (store.lengths <= 12)).all()
    frames = store.frames(0)
    assert frames.dtype == np.uint8 and frames.max() == 255 and frames.min() == 0


@pytest.mark.parametrize("fmt, shape", [("pkl", (32, 32)), ("png", (64, None))])
def test_trees_are_read_by_the_data_readers(tmp_path, fmt, shape):
    read_sequence = pytest.importorskip("gaitreid.data.readers").read_sequence
    scan_tree = pytest.importorskip("gaitreid.data.scan").scan_tree
    cfg = replace(TINY, subjects=1)
    write_dataset(tmp_path / fmt, cfg, fmt=fmt)
    scan = scan_tree(tmp_path / fmt, layout="casia-b")
    assert len(scan.sequences) == len(CASIA_B_CONDITIONS) * len(CASIA_B_VIEWS)
    assert not scan.missing_keys() and not scan.problems
    frames, problems = read_sequence(scan.sequences[0])
    assert not problems
    assert frames.shape[1] == shape[0] and frames.shape[2] == (shape[1] or frames.shape[2])
    assert 10 <= len(frames) <= 12
    assert set(np.unique(frames)) <= set(range(256)) and frames.max() == 255


def test_unlabelled_mode_ids_cannot_collide_and_keys_are_unique():
    cfg = replace(TINY, subjects=3, unlabelled=True, sequences=7)
    jobs = plan_jobs(cfg)
    assert len(jobs) == 21
    assert all(j.key.subject.startswith("u") for j in jobs)
    assert len({j.key for j in jobs}) == 21
    labelled = {j.key.subject for j in plan_jobs(TINY)}
    assert labelled.isdisjoint({j.key.subject for j in jobs})
    # the true view angle stays within 9 degrees of the folder's view
    assert all(abs(j.view_deg - float(j.key.view)) <= 9.0 for j in jobs)


def test_bad_options_are_config_errors():
    with pytest.raises(ConfigError):
        SynthConfig(subjects=0)
    with pytest.raises(ConfigError):
        SynthConfig(subjects=2, unlabelled=True, sequences=111)
    with pytest.raises(ConfigError):
        SynthConfig(subjects=1, height=64, render=RenderConfig(raw_height=100))


def test_cli_refuses_to_overwrite_foreign_folder(tmp_path, capsys):
    target = tmp_path / "precious"
    target.mkdir()
    (target / "thesis.txt").write_text("keep me")
    code = cli_main(["synth", str(target), "--subjects", "1", "--format", "pkl", "--overwrite"])
    assert code == 2
    assert "refusing" in capsys.readouterr().err
    assert (target / "thesis.txt").read_text() == "keep me"


def test_cli_writes_a_store(tmp_path):
    out = tmp_path / "s"
    code = cli_main(["synth", str(out), "--subjects", "1", "--height", "32", "--width", "22", "--raw-height", "64",
                     "--frames", "8", "9", "--workers", "1"])
    assert code == 0
    store = SequenceStore.open(out)
    assert len(store) == 110 and store.frame_shape == (32, 22)
    assert store.manifest["synth"]["seed"] == 0


def test_cli_rejects_a_file_as_output_and_bad_sizes(tmp_path, capsys):
    target = tmp_path / "file.txt"
    target.write_text("x")
    assert cli_main(["synth", str(target), "--subjects", "1"]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert cli_main(["synth", str(tmp_path / "x"), "--subjects", "1", "--height", "64", "--raw-height", "100"]) == 2
    assert "raw height" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_a_subject_does_not_depend_on_the_dataset_size():
    small = generate(replace(TINY, subjects=1), "store")
    large = generate(replace(TINY, subjects=3), "store")
    for _ in range(3):
        (key_a, a), (key_b, b) = next(small), next(large)
        assert key_a == key_b and np.array_equal(a, b)
