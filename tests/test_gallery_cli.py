"""`gaitreid enrol | identify | gallery | calibrate` end to end with a tiny real checkpoint."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from gaitreid.cli.main import main
from gaitreid.gallery.database import Gallery
from use_helpers import make_checkpoint, person_frames, write_png_sequence


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A checkpoint, another model's checkpoint, and walks of 4 people (2 walks each) on disk."""
    root = tmp_path_factory.mktemp("use")
    walks = {p: [write_png_sequence(root / f"p{p}" / f"walk{w}", person_frames(p, seed=w)) for w in range(2)] for p in range(4)}
    return {
        "root": root,
        "model": make_checkpoint(root / "ckpt", seed=0),
        "other_model": make_checkpoint(root / "ckpt-other", seed=1),
        "walks": walks,
    }


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_enrol_identify_list_remove(world, tmp_path, capsys):
    gallery = tmp_path / "people.db"
    walks = world["walks"]
    for person in (0, 1, 2):
        code, out, err = run(capsys, "enrol", "--gallery", gallery, "--model", world["model"], "--identity", f"person{person}", walks[person][0])
        assert code == 0, err
        assert f"enrolled person{person}" in out
    # the very walk that was enrolled is nearest to its own identity at distance ~0: float32
    # rounding of the expanded distance form leaves ~1e-6 (CPU-dependent); the next identity of this
    # random-weight model is ~4e-4 away
    code, out, err = run(capsys, "identify", "--gallery", gallery, "--top-k", "3", walks[1][0])
    assert code == 0, err
    lines = out.splitlines()
    assert "not calibrated" in lines[0] and lines[1].split()[1] == "person1"
    assert float(lines[1].split()[2]) < 0.02 * float(lines[2].split()[2])
    assert lines[-1] == "answer: person1" and len(lines) == 5

    code, out, _ = run(capsys, "gallery", "list", "--gallery", gallery)
    assert code == 0 and "3 identities, 3 sequences" in out and "person2" in out
    code, out, _ = run(capsys, "gallery", "remove", "--gallery", gallery, "person2")
    assert code == 0 and "removed person2 (1 sequences)" in out
    code, out, _ = run(capsys, "gallery", "check", "--gallery", gallery)
    assert code == 0 and out.strip().endswith("ok")


def test_unknown_person_above_the_threshold(world, tmp_path, capsys):
    gallery = tmp_path / "people.db"
    walks = world["walks"]
    for person in (0, 1):
        assert run(capsys, "enrol", "--gallery", gallery, "--model", world["model"], "--identity", f"p{person}", *walks[person])[0] == 0
    code, out, _ = run(capsys, "identify", "--gallery", gallery, walks[3][0])
    stranger_distance = float(out.splitlines()[1].split()[2])
    assert stranger_distance > 0
    with Gallery.open(gallery) as g:  # a threshold between "same walk" (0) and the stranger
        g.set_setting("open_set", {"threshold": stranger_distance / 2, "metric": "euclidean"})
    code, out, _ = run(capsys, "identify", "--gallery", gallery, walks[3][0])
    assert code == 0 and out.splitlines()[-1] == "answer: unknown"
    code, out, _ = run(capsys, "identify", "--gallery", gallery, walks[0][1])
    assert out.splitlines()[-1] in ("answer: p0", "answer: unknown")  # another walk: model is untrained
    code, out, _ = run(capsys, "identify", "--gallery", gallery, walks[0][0])
    assert out.splitlines()[-1] == "answer: p0"


def test_enrol_accepts_a_pkl_and_refuses_an_unsafe_one(world, tmp_path, capsys):
    gallery = tmp_path / "g.db"
    good = tmp_path / "walk.pkl"
    good.write_bytes(pickle.dumps(person_frames(2)))
    code, out, err = run(capsys, "enrol", "--gallery", gallery, "--model", world["model"], "--identity", "p2", good)
    assert code == 0, err

    class Evil:
        def __reduce__(self):
            return (print, ("this must never run",))

    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(Evil()))
    code, out, err = run(capsys, "enrol", "--gallery", gallery, "--model", world["model"], "--identity", "x", evil)
    assert code == 2 and "evil.pkl" in err and "this must never run" not in out + err
    with Gallery.open(gallery) as g:
        assert [p.name for p in g.identities()] == ["p2"]


def test_bad_input_gives_one_line_errors(world, tmp_path, capsys):
    gallery = tmp_path / "g.db"
    model = world["model"]
    empty = tmp_path / "empty_walk"
    empty.mkdir()
    code, _, err = run(capsys, "enrol", "--gallery", gallery, "--model", model, "--identity", "a", empty)
    assert code == 2 and "empty_walk" in err and "Traceback" not in err
    blank = write_png_sequence(tmp_path / "blank_walk", np.zeros((6, 64, 48), np.uint8))  # frames without a person
    code, _, err = run(capsys, "enrol", "--gallery", gallery, "--model", model, "--identity", "a", blank)
    assert code == 2 and "blank_walk" in err and "usable frames" in err
    code, _, err = run(capsys, "enrol", "--gallery", gallery, "--model", model, "--identity", "a", tmp_path / "nope")
    assert code == 2 and "nope" in err
    # one good and one bad sequence: nothing is enrolled (all or nothing)
    code, _, err = run(capsys, "enrol", "--gallery", gallery, "--model", model, "--identity", "a", world["walks"][0][0], empty)
    assert code == 2
    with Gallery.open(gallery) as g:
        assert len(g) == 0

    # a gallery from another model
    assert run(capsys, "enrol", "--gallery", gallery, "--model", model, "--identity", "a", world["walks"][0][0])[0] == 0
    code, _, err = run(capsys, "enrol", "--gallery", gallery, "--model", world["other_model"], "--identity", "b", world["walks"][1][0])
    assert code == 2 and "different models" in err
    code, _, err = run(capsys, "identify", "--gallery", gallery, "--model", world["other_model"], world["walks"][1][0])
    assert code == 2 and "different models" in err

    # a corrupt gallery file, a missing one
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"\x00garbage" * 1000)
    code, _, err = run(capsys, "identify", "--gallery", corrupt, world["walks"][0][0])
    assert code == 2 and "corrupt.db" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "gallery", "list", "--gallery", tmp_path / "absent.db")
    assert code == 2 and "absent.db" in err


def test_calibrate_stores_a_threshold_identify_then_uses(world, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GAITREID_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "validation"
    for subject in range(5):
        for condition in ("nm-01", "nm-02", "nm-03", "nm-04", "nm-05", "nm-06"):
            write_png_sequence(data / f"{subject + 100:03d}" / condition / "090",
                               person_frames(subject + 10, frames=8, seed=int(condition[-1])))
    gallery = tmp_path / "g.db"
    assert run(capsys, "enrol", "--gallery", gallery, "--model", world["model"], "--identity", "p0", world["walks"][0][0])[0] == 0
    code, out, err = run(capsys, "calibrate", "--gallery", gallery, "--data", data, "--far", "0.1")
    assert code == 0, err
    assert "calibrated on 5 subjects (10 genuine, 10 impostor trials" in out and "stored in" in out
    with Gallery.open(gallery) as g:
        stored = g.setting("open_set")
    assert stored["far"] <= 0.1 and stored["subjects"] == 5 and stored["threshold"] > 0
    code, out, _ = run(capsys, "identify", "--gallery", gallery, world["walks"][0][0])
    assert f"threshold: {stored['threshold']:.5g}" in out
    code, out, _ = run(capsys, "gallery", "list", "--gallery", gallery)
    assert "target FAR 10.00%" in out
    code, _, err = run(capsys, "calibrate", "--gallery", gallery, "--data", data, "--subjects", "900-999")
    assert code == 2 and "matches none" in err


def test_identify_with_the_index_keeps_it_beside_the_gallery_until_the_gallery_changes(world, tmp_path, capsys):
    gallery = tmp_path / "people.db"
    walks = world["walks"]
    for person in range(4):
        assert run(capsys, "enrol", "--gallery", gallery, "--model", world["model"], "--identity", f"p{person}", *walks[person])[0] == 0
    code, exact, _ = run(capsys, "identify", "--gallery", gallery, "--search", "exact", walks[2][1])
    code, indexed, _ = run(capsys, "identify", "--gallery", gallery, "--search", "index", walks[2][1])
    ranked = lambda out: [(line.split()[1], float(line.split()[2])) for line in out.splitlines()[1:-1]]
    assert code == 0 and [n for n, _ in ranked(indexed)] == [n for n, _ in ranked(exact)]  # 8 rows: it sees all
    np.testing.assert_allclose([d for _, d in ranked(indexed)], [d for _, d in ranked(exact)], atol=1e-4)
    index_file = tmp_path / "people.db.faiss"
    stamp = index_file.with_name("people.db.faiss.json")
    first = stamp.read_text()
    mtime = index_file.stat().st_mtime_ns
    run(capsys, "identify", "--gallery", gallery, "--search", "index", walks[2][1])
    assert index_file.stat().st_mtime_ns == mtime  # reused
    run(capsys, "gallery", "remove", "--gallery", gallery, "p3")
    code, out, _ = run(capsys, "identify", "--gallery", gallery, "--search", "index", walks[2][1])
    assert code == 0 and stamp.read_text() != first and "p3" not in out  # rebuilt for the new state


def test_large_galleries_search_a_memory_mapped_copy_that_follows_the_gallery(world, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("gaitreid.gallery.workflow.MATRIX_CACHE_MIN_ROWS", 2)
    gallery = tmp_path / "people.db"
    walks = world["walks"]
    for person in range(3):
        assert run(capsys, "enrol", "--gallery", gallery, "--model", world["model"], "--identity", f"p{person}", *walks[person])[0] == 0
    code, first, err = run(capsys, "identify", "--gallery", gallery, walks[1][0])
    assert code == 0 and first.splitlines()[-1] == "answer: p1", err
    copy = tmp_path / "people.db.embeddings.npy"
    assert np.load(copy).shape == (6, 8, 3)
    mtime = copy.stat().st_mtime_ns
    code, again, _ = run(capsys, "identify", "--gallery", gallery, walks[1][0])
    assert again == first and copy.stat().st_mtime_ns == mtime  # reused
    assert run(capsys, "enrol", "--gallery", gallery, "--model", world["model"], "--identity", "p3", walks[3][0])[0] == 0
    code, out, _ = run(capsys, "identify", "--gallery", gallery, walks[3][0])
    assert out.splitlines()[-1] == "answer: p3" and np.load(copy).shape == (7, 8, 3)  # refreshed
