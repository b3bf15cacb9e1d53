"""The sequence store: round trip, zero-copy frames, clips, selection, damage detection."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gaitreid.data.layout import SequenceKey
from gaitreid.data.pretreat import PretreatConfig
from gaitreid.data.store import FRAMES_FILE, INDEX_FILE, MANIFEST_FILE, SequenceStore, StoreWriter, is_store
from gaitreid.errors import StoreError

CFG = PretreatConfig(32, 22)


def make_sequences(seed=0):
    rng = np.random.default_rng(seed)
    sequences = {}
    for subject in ("001", "002"):
        for condition in ("nm-01", "bg-01"):
            for view in ("000", "090"):
                length = int(rng.integers(3, 40))
                sequences[SequenceKey(subject, condition, view)] = rng.integers(0, 256, (length, 32, 22), dtype=np.uint8)
    return sequences


def write_store(path, sequences, cfg=CFG):
    with StoreWriter(path, cfg, source="/data/test") as writer:
        for key, frames in sequences.items():
            writer.add(key, frames)
    return SequenceStore.open(path)


def test_round_trip(tmp_path):
    sequences = make_sequences()
    store = write_store(tmp_path / "store", sequences)
    assert is_store(tmp_path / "store")
    assert len(store) == len(sequences)
    assert store.keys == list(sequences)
    assert store.frame_shape == (32, 22)
    assert store.subjects == ["001", "002"]
    assert store.pretreat == CFG
    assert store.manifest["source"] == "/data/test"
    assert store.num_frames == sum(len(f) for f in sequences.values())
    for i, (key, frames) in enumerate(sequences.items()):
        assert store.lengths[i] == len(frames)
        np.testing.assert_array_equal(store.frames(i), frames)
    store.verify(full=True)


def test_frames_and_clips_are_slices_of_the_memory_map(tmp_path):
    sequences = make_sequences()
    store = write_store(tmp_path / "store", sequences)
    i = int(np.argmax(store.lengths))
    frames = store.frames(i)
    assert isinstance(frames, np.memmap) and not frames.flags.writeable
    rng = np.random.default_rng(1)
    starts = set()
    for _ in range(50):
        clip = store.clip(i, 3, rng)
        assert clip.shape == (3, 32, 22)
        assert np.shares_memory(clip, store._frames)  # a slice, not a copy
        start = int(np.flatnonzero((frames[:, 0, :] == clip[0, 0, :]).all(axis=1))[0])
        np.testing.assert_array_equal(clip, frames[start : start + 3])
        starts.add(start)
    assert len(starts) > 5  # the start is random


def test_short_sequences_are_looped(tmp_path):
    seq = {SequenceKey("001", "nm-01", "000"): np.arange(4 * 32 * 22, dtype=np.int64).reshape(4, 32, 22).astype(np.uint8)}
    store = write_store(tmp_path / "store", seq)
    clip = store.clip(0, 10, np.random.default_rng(0))
    assert clip.shape == (10, 32, 22)
    first = int(np.flatnonzero((store.frames(0)[:, 0, 0] == clip[0, 0, 0]))[0])
    expected = store.frames(0)[(first + np.arange(10)) % 4]
    np.testing.assert_array_equal(clip, expected)


def test_indices_select_by_fields(tmp_path):
    store = write_store(tmp_path / "store", make_sequences())
    chosen = store.indices(subjects=["002"], conditions=["nm-01"])
    assert [str(store.keys[i]) for i in chosen] == ["002/nm-01/000", "002/nm-01/090"]
    assert len(store.indices()) == len(store)
    assert len(store.indices(views=["180"])) == 0


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with StoreWriter(tmp_path / "store", CFG, source="x") as writer:
            writer.add(SequenceKey("001", "nm-01", "000"), np.zeros((3, 32, 22), np.uint8))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_writer_refuses_bad_input(tmp_path):
    with pytest.raises(StoreError, match="no usable sequence"):
        with StoreWriter(tmp_path / "empty", CFG, source="x"):
            pass
    assert list(tmp_path.iterdir()) == []
    with StoreWriter(tmp_path / "s", CFG, source="x") as writer:
        with pytest.raises(ValueError, match="expected"):
            writer.add(SequenceKey("001", "nm-01", "000"), np.zeros((3, 64, 44), np.uint8))
        writer.add(SequenceKey("001", "nm-01", "000"), np.zeros((3, 32, 22), np.uint8))
        with pytest.raises(ValueError, match="twice"):
            writer.add(SequenceKey("001", "nm-01", "000"), np.zeros((3, 32, 22), np.uint8))


def test_rewriting_replaces_the_old_store(tmp_path):
    write_store(tmp_path / "store", make_sequences(0))
    sequences = make_sequences(1)
    store = write_store(tmp_path / "store", sequences)
    np.testing.assert_array_equal(store.frames(0), sequences[store.keys[0]])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda p: (p / FRAMES_FILE).write_bytes((p / FRAMES_FILE).read_bytes()[:-100]), "truncated"),
        (lambda p: (p / MANIFEST_FILE).write_text("{not json"), "unreadable manifest"),
        (lambda p: (p / MANIFEST_FILE).unlink(), "missing manifest"),
        (lambda p: (p / INDEX_FILE).write_text((p / INDEX_FILE).read_text().replace("nm-01", "nm-02")), "index checksum"),
        (lambda p: (p / INDEX_FILE).unlink(), "missing index"),
    ],
)
def test_damage_is_detected(tmp_path, damage, message):
    write_store(tmp_path / "store", make_sequences())
    damage(tmp_path / "store")
    with pytest.raises(StoreError, match=message):
        SequenceStore.open(tmp_path / "store")


def test_flipped_frame_bytes_are_detected(tmp_path):
    write_store(tmp_path / "store", make_sequences())
    path = tmp_path / "store" / FRAMES_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="checksum"):
        SequenceStore.open(tmp_path / "store", verify="full")


def test_other_format_version_is_refused(tmp_path):
    write_store(tmp_path / "store", make_sequences())
    manifest_path = tmp_path / "store" / MANIFEST_FILE
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 999
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(StoreError, match="format version 999"):
        SequenceStore.open(tmp_path / "store")


def test_pickling_a_store_sends_the_path_not_the_frames(tmp_path):
    import pickle

    sequences = make_sequences()
    store = write_store(tmp_path / "store", sequences)
    data = pickle.dumps(store)
    assert len(data) < store.num_frames * 32 * 22 // 4  # far smaller than the frames
    copy = pickle.loads(data)
    assert copy.keys == store.keys
    np.testing.assert_array_equal(copy.frames(3), store.frames(3))
