"""The gallery database: enrol/list/remove, one model per gallery, bad files, concurrency, crashes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from gaitreid.errors import GaitReidError
from gaitreid.gallery.database import Gallery, ModelBinding, NewSequence

SHAPE = (8, 3)
MODEL_A = ModelBinding("aaaa1111", {"checkpoint": "/ckpt/a"}, SHAPE)
MODEL_B = ModelBinding("bbbb2222", {"checkpoint": "/ckpt/b"}, SHAPE)
REPO = Path(__file__).resolve().parents[1]


def seqs(n: int, value: float = 1.0) -> list[NewSequence]:
    return [NewSequence(f"/walks/{value}-{i}", 30 + i, np.full(SHAPE, value + i, np.float32)) for i in range(n)]


def test_enrol_list_load_remove(tmp_path):
    path = tmp_path / "g.db"
    with Gallery.open(path, create=True) as g:
        g.enrol("alice", seqs(2, 1.0), MODEL_A)
        g.enrol("bob", seqs(1, 5.0), MODEL_A)
        g.enrol("alice", seqs(1, 9.0), MODEL_A)  # more walks of the same person
    with Gallery.open(path) as g:
        assert [(p.name, p.sequences) for p in g.identities()] == [("alice", 3), ("bob", 1)]
        loaded = g.load_embeddings()
        assert loaded.embeddings.shape == (4, *SHAPE)
        assert list(loaded.identities) == ["alice", "alice", "bob", "alice"]
        np.testing.assert_array_equal(loaded.embeddings[2], np.full(SHAPE, 5.0))
        assert g.model().fingerprint == MODEL_A.fingerprint
        assert g.remove("alice") == 3
        assert len(g) == 1 and g.integrity_problems() == []
        with pytest.raises(GaitReidError, match="no identity named 'carol'"):
            g.remove("carol")


def test_other_model_is_refused_naming_both_fingerprints(tmp_path):
    with Gallery.open(tmp_path / "g.db", create=True) as g:
        g.enrol("alice", seqs(1), MODEL_A)
        with pytest.raises(GaitReidError) as err:
            g.enrol("bob", seqs(1), MODEL_B)
        assert "aaaa1111" in str(err.value) and "bbbb2222" in str(err.value) and "g.db" in str(err.value)
        assert [p.name for p in g.identities()] == ["alice"]  # nothing of bob landed


def test_wrong_shape_nonfinite_and_empty_enrolments_are_refused(tmp_path):
    with Gallery.open(tmp_path / "g.db", create=True) as g:
        with pytest.raises(GaitReidError, match="shape"):
            g.enrol("a", [NewSequence("/x", 3, np.zeros((4, 4), np.float32))], MODEL_A)
        with pytest.raises(GaitReidError, match="non-finite"):
            g.enrol("a", [NewSequence("/x", 3, np.full(SHAPE, np.nan, np.float32))], MODEL_A)
        with pytest.raises(GaitReidError, match="no sequences"):
            g.enrol("a", [], MODEL_A)
        with pytest.raises(GaitReidError, match="empty"):
            g.enrol("  ", seqs(1), MODEL_A)
        assert len(g) == 0


def test_missing_corrupt_and_foreign_files_give_clear_errors(tmp_path):
    with pytest.raises(GaitReidError, match="no gallery here"):
        Gallery.open(tmp_path / "absent.db")
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not a database at all" * 200)
    with pytest.raises(GaitReidError, match="corrupt.db.*(corrupt|not a database)"):
        Gallery.open(corrupt)
    foreign = tmp_path / "foreign.db"
    sqlite3.connect(foreign).execute("CREATE TABLE t(x)").connection.commit()
    with pytest.raises(GaitReidError, match="foreign.db: not a gaitreid gallery"):
        Gallery.open(foreign)


def test_truncated_gallery_is_reported_not_crashing(tmp_path):
    path = tmp_path / "g.db"
    with Gallery.open(path, create=True) as g:
        for i in range(40):
            g.enrol(f"p{i}", seqs(3, float(i)), MODEL_A)
        g._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(GaitReidError, match="g.db"):
        with Gallery.open(path) as g:
            g.load_embeddings()
            assert g.integrity_problems() == []  # if the half file still reads, it must be consistent


# ---------------------------------------------------------------- concurrency and crashes

ENROLLER = textwrap.dedent(
    """
    import sys, numpy as np
    from gaitreid.gallery.database import Gallery, ModelBinding, NewSequence
    path, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    model = ModelBinding("aaaa1111", {"checkpoint": "/ckpt/a"}, (8, 3))
    crash_at = int(sys.argv[4]) if len(sys.argv) > 4 else -1
    if crash_at >= 0:
        import os
        original = Gallery._insert_sequence
        inserted = []
        def dying_insert(self, *args):
            original(self, *args)
            inserted.append(1)
            if len(inserted) == crash_at:
                os._exit(3)  # the process dies inside the transaction, nothing is cleaned up
        Gallery._insert_sequence = dying_insert
    with Gallery.open(path, create=True) as g:
        for i in range(count):
            walks = [NewSequence(f"/{tag}/{i}/{j}", 10, np.full((8, 3), i, np.float32)) for j in range(3)]
            g.enrol(f"{tag}-{i % 7}", walks, model)
            print(i, flush=True)
    """
)


def spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", ENROLLER, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_processes_enrolling_at_once_lose_nothing(tmp_path):
    path = str(tmp_path / "g.db")
    procs = [spawn(path, "left", "80"), spawn(path, "right", "80")]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    with Gallery.open(path) as g:
        assert len(g) == 2 * 80 * 3
        assert sorted(g.enrolments().values()) == [3] * 160
        assert sum(p.sequences for p in g.identities()) == 480
        assert len(g.identities()) == 14
        assert g.integrity_problems() == []


def test_process_dying_inside_an_enrolment_leaves_only_whole_enrolments(tmp_path):
    path = str(tmp_path / "g.db")
    proc = spawn(path, "crash", "10", "17")  # dies after the 2nd of 3 inserts of enrolment 6
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    assert out.split() == [str(i) for i in range(5)]
    with Gallery.open(path) as g:
        assert g.integrity_problems() == []
        assert sorted(g.enrolments().values()) == [3] * 5
        # and the gallery is writable again: the dead writer's lock is gone
        g.enrol("after", seqs(1), MODEL_A)
        assert len(g) == 16


def test_process_killed_at_a_random_moment_leaves_only_whole_enrolments(tmp_path):
    path = str(tmp_path / "g.db")
    proc = spawn(path, "killed", "100000")
    deadline = time.monotonic() + 60
    lines = 0
    while lines < 20 and time.monotonic() < deadline:  # let it enrol a while, then kill -9
        if proc.stdout.readline():
            lines += 1
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    with Gallery.open(path) as g:
        assert g.integrity_problems() == []
        counts = g.enrolments()
        assert len(counts) >= 20 and set(counts.values()) == {3}
