"""build_store: convert once, reuse while nothing changed, rebuild damaged caches."""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from data_trees import pkl_tree, walker, write_pkl_sequence, write_png_sequence
from gaitreid.data import convert
from gaitreid.data.cache import default_cache_root
from gaitreid.data.layout import SequenceKey
from gaitreid.data.pretreat import PretreatConfig, pretreat_sequence
from gaitreid.data.safe_pickle import load_numpy_pickle
from gaitreid.data.store import FRAMES_FILE, MANIFEST_FILE, build_store
from gaitreid.errors import ConfigError, DataError, StoreError


def store_dirs(cache_root):
    return sorted(p for p in cache_root.iterdir() if not p.name.startswith("."))


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "casia"
    written = pkl_tree(root)
    return root, written


def test_round_trip_from_pkl_tree(tree, tmp_path):
    root, written = tree
    store = build_store(root, PretreatConfig(64, 44), cache_root=tmp_path / "cache", progress=False)
    assert len(store) == len(written)
    assert store.path.parent == tmp_path / "cache"
    for i, key in enumerate(store.keys):
        expected = pretreat_sequence(written[(key.subject, key.condition, key.view)], PretreatConfig(64, 44))
        np.testing.assert_array_equal(store.frames(i), expected)
    conversion = store.manifest["conversion"]
    assert conversion["sequences_usable"] == len(written)
    assert conversion["frames_kept"] == store.num_frames


def test_round_trip_from_raw_png_tree(tmp_path):
    """Raw-style 320x240 PNGs give the same store as the 64-row frames they were made from."""
    raw_root, small_root = tmp_path / "raw", tmp_path / "small"
    for view in ("000", "090"):
        frames = walker(8, seed=int(view))
        canvas = np.zeros((8, 240, 320), np.uint8)
        canvas[:, 100:164, 40:104] = frames
        write_png_sequence(raw_root, ("001", "cl-01", view), canvas)
        write_pkl_sequence(small_root, ("001", "cl-01", view), frames)
    raw = build_store(raw_root, cache_root=tmp_path / "cache", progress=False)
    small = build_store(small_root, cache_root=tmp_path / "cache", progress=False)
    assert raw.keys == small.keys and raw.path != small.path
    for i in range(len(raw)):
        np.testing.assert_array_equal(raw.frames(i), small.frames(i))


def test_same_source_and_params_reuse_the_cache(tree, tmp_path, caplog):
    root, _ = tree
    first = build_store(root, cache_root=tmp_path / "cache", progress=False)
    stamp = os.stat(first.path / FRAMES_FILE).st_mtime_ns
    with caplog.at_level(logging.INFO, logger="gaitreid.data"):
        second = build_store(root, cache_root=tmp_path / "cache", progress=False)
    assert second.path == first.path
    assert os.stat(second.path / FRAMES_FILE).st_mtime_ns == stamp
    assert "reusing cached store" in caplog.text


def test_other_params_make_another_store(tree, tmp_path):
    root, _ = tree
    big = build_store(root, PretreatConfig(64, 44), cache_root=tmp_path / "cache", progress=False)
    small = build_store(root, PretreatConfig(32, 22), cache_root=tmp_path / "cache", progress=False)
    assert big.path != small.path
    assert small.frame_shape == (32, 22) and big.frame_shape == (64, 44)
    assert len(store_dirs(tmp_path / "cache")) == 2


def test_changed_source_makes_a_new_store(tree, tmp_path):
    root, _ = tree
    first = build_store(root, cache_root=tmp_path / "cache", progress=False)
    write_pkl_sequence(root, ("002", "cl-02", "180"), walker(9))
    second = build_store(root, cache_root=tmp_path / "cache", progress=False)
    assert second.path != first.path and len(second) == len(first) + 1
    assert store_dirs(tmp_path / "cache") == [second.path]  # the outdated store is removed


def test_concurrent_builds_of_one_store_convert_once(tree, tmp_path, monkeypatch):
    from gaitreid.data import cache

    root, _ = tree
    calls = []
    real_convert = cache.convert_scan

    def counting_convert(*args, **kwargs):
        calls.append(1)
        time.sleep(0.2)  # make the builds overlap
        return real_convert(*args, **kwargs)

    monkeypatch.setattr(cache, "convert_scan", counting_convert)
    with ThreadPoolExecutor(2) as pool:
        stores = list(pool.map(lambda _: build_store(root, cache_root=tmp_path / "cache", progress=False), range(2)))
    assert len(calls) == 1
    assert stores[0].path == stores[1].path


@pytest.mark.parametrize("damage", ["truncate", "manifest", "flip"])
def test_damaged_cache_is_rebuilt_with_a_warning(tree, tmp_path, caplog, damage):
    root, written = tree
    store = build_store(root, cache_root=tmp_path / "cache", progress=False)
    frames_path = store.path / FRAMES_FILE
    if damage == "truncate":
        frames_path.write_bytes(frames_path.read_bytes()[:1000])
    elif damage == "manifest":
        (store.path / MANIFEST_FILE).write_text("{")
    else:
        data = bytearray(frames_path.read_bytes())
        data[len(data) // 3] ^= 0x55
        frames_path.write_bytes(bytes(data))
    del store
    with caplog.at_level(logging.WARNING, logger="gaitreid.data"):
        rebuilt = build_store(root, cache_root=tmp_path / "cache", progress=False)
    assert "damaged" in caplog.text and "rebuilding" in caplog.text
    assert len(rebuilt) == len(written)
    rebuilt.verify(full=True)


def test_vanished_source_uses_a_valid_cache_and_refuses_a_damaged_one(tree, tmp_path, caplog):
    root, written = tree
    store = build_store(root, cache_root=tmp_path / "cache", progress=False)
    moved = tmp_path / "moved"
    root.rename(moved)
    with caplog.at_level(logging.WARNING, logger="gaitreid.data"):
        again = build_store(root, cache_root=tmp_path / "cache", progress=False)
    assert again.path == store.path and "dataset root not found" in caplog.text
    (store.path / FRAMES_FILE).write_bytes(b"\0" * 10)
    with pytest.raises(StoreError, match="dataset root not found, and its cached store is damaged"):
        build_store(root, cache_root=tmp_path / "cache", progress=False)
    with pytest.raises(DataError, match="dataset root not found"):
        build_store(tmp_path / "never", cache_root=tmp_path / "cache", progress=False)


def test_a_store_given_as_source_is_opened(tree, tmp_path):
    root, _ = tree
    store = build_store(root, cache_root=tmp_path / "cache", progress=False)
    assert build_store(store.path).path == store.path
    assert build_store(store.path, PretreatConfig()).path == store.path
    with pytest.raises(ConfigError, match="store was made at 64x44"):
        build_store(store.path, PretreatConfig(32, 22))


def test_default_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GAITREID_CACHE", str(tmp_path / "c"))
    assert default_cache_root() == tmp_path / "c"
    monkeypatch.delenv("GAITREID_CACHE")
    assert default_cache_root() == __import__("pathlib").Path.home() / ".cache" / "gaitreid"


def test_worker_processes_give_the_same_store(tmp_path, monkeypatch):
    monkeypatch.setattr(convert, "MIN_SEQUENCES_FOR_WORKERS", 2)
    root = tmp_path / "data"
    pkl_tree(root, subjects=("001", "002", "003"), views=("000", "018", "036"), length=6)
    serial = build_store(root, cache_root=tmp_path / "serial", workers=1, progress=False)
    parallel = build_store(root, cache_root=tmp_path / "parallel", workers=2, progress=False)
    assert serial.keys == parallel.keys
    np.testing.assert_array_equal(np.asarray(serial._frames), np.asarray(parallel._frames))


@pytest.mark.casia
def test_real_subject_001_store_equals_the_pretreated_source(casia_b_subject001, tmp_path):
    cfg = PretreatConfig(64, 44)
    store = build_store(casia_b_subject001, cfg, cache_root=tmp_path / "cache", progress=False)
    sources = sorted(casia_b_subject001.glob("001/*/*/*.pkl"))
    assert len(sources) == 110  # subject 001 is complete: 10 conditions x 11 views
    assert store.subjects == ["001"] and len(store) == 110
    assert store.manifest["conversion"]["missing"] == []
    total = 0
    for path in sources:
        key = SequenceKey("001", path.parent.parent.name, path.parent.name)
        source = load_numpy_pickle(path)
        frames = store.frames(store.keys.index(key))
        np.testing.assert_array_equal(frames, pretreat_sequence(source, cfg))
        assert len(frames) == len(source)  # no real frame is dropped
        total += len(source)
    assert store.num_frames == total
    clip = store.clip(0, 30, np.random.default_rng(0))
    assert clip.shape == (30, 64, 44)
