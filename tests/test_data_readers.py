"""Scanning trees and reading sequences: every kind of bad input is reported with its path."""

from __future__ import annotations

import logging
import pickle

import cv2
import numpy as np
import pytest

from data_trees import pkl_tree, walker, write_pkl_sequence, write_png_sequence
from gaitreid.data.convert import convert_scan
from gaitreid.data.layout import SequenceKey
from gaitreid.data.pretreat import PretreatConfig
from gaitreid.data.problems import (AMBIGUOUS, EMPTY_FOLDER, MIXED_SIZES, NO_FOREGROUND, TOO_SHORT,
                                    UNEXPECTED_NAME, UNREADABLE_FILE, UNSAFE_PICKLE)
from gaitreid.data.readers import read_png, read_sequence
from gaitreid.data.scan import scan_tree
from gaitreid.errors import ConfigError, DataError


def kinds(problems):
    return [p.kind for p in problems]


def test_scan_pkl_tree_finds_every_sequence_and_the_missing_ones(tmp_path):
    written = pkl_tree(tmp_path)
    scan = scan_tree(tmp_path)
    assert [s.key for s in scan.sequences] == sorted(SequenceKey(*k) for k in written)
    assert all(s.kind == "pkl" for s in scan.sequences)
    assert scan.problems == []
    # CASIA-B layout: 10 conditions x 11 views per subject are expected
    assert len(scan.missing_keys()) == 2 * 110 - len(written)


def test_read_png_sequence_in_frame_order(tmp_path):
    frames = walker(12, 240, 320)
    write_png_sequence(tmp_path, ("001", "nm-01", "090"), frames)
    scan = scan_tree(tmp_path)
    (source,) = scan.sequences
    assert source.kind == "png" and len(source.files) == 12
    read, problems = read_sequence(source)
    assert problems == []
    np.testing.assert_array_equal(read, frames)


def test_corrupt_and_zero_byte_png_frames_are_skipped_with_their_path(tmp_path, caplog):
    folder = write_png_sequence(tmp_path, ("001", "nm-01", "000"), walker(8))
    zero = folder / "001-nm-01-000-003.png"
    zero.write_bytes(b"")
    corrupt = folder / "001-nm-01-000-005.png"
    corrupt.write_bytes(corrupt.read_bytes()[:30])
    with caplog.at_level(logging.WARNING, logger="gaitreid.data"):
        frames, problems = read_sequence(scan_tree(tmp_path).sequences[0])
    assert len(frames) == 6
    assert kinds(problems) == [UNREADABLE_FILE, UNREADABLE_FILE]
    assert str(zero) in str(problems[0]) and "0 bytes" in str(problems[0])
    assert str(corrupt) in str(problems[1])
    assert str(zero) in caplog.text and str(corrupt) in caplog.text
    with pytest.raises(DataError, match="0 bytes"):
        read_png(zero)


def test_mixed_frame_sizes_keep_the_majority(tmp_path):
    folder = write_png_sequence(tmp_path, ("001", "nm-01", "000"), walker(6, 64, 64))
    for i, frame in enumerate(walker(2, 64, 48)):  # frames 7 and 8 are narrower
        cv2.imwrite(str(folder / f"001-nm-01-000-{7 + i:03d}.png"), frame)
    frames, problems = read_sequence(scan_tree(tmp_path).sequences[0])
    assert frames.shape == (6, 64, 64)
    assert kinds(problems) == [MIXED_SIZES]
    assert str(folder) in str(problems[0]) and "64x48 (2)" in str(problems[0])


def test_unexpected_names_and_empty_folders_are_reported_and_skipped(tmp_path):
    pkl_tree(tmp_path, subjects=("001",), conditions=("nm-01",), views=("000",))
    (tmp_path / "notes").mkdir()  # not a subject
    (tmp_path / "001" / "walking").mkdir()  # not a condition
    (tmp_path / "001" / "nm-02" / "abc").mkdir(parents=True)  # not a view
    (tmp_path / "001" / "nm-01" / "018").mkdir()  # empty sequence folder
    (tmp_path / "003").mkdir()  # empty subject
    (tmp_path / "README.md").write_text("files next to subjects are ignored")
    (tmp_path / ".hidden").mkdir()
    scan = scan_tree(tmp_path)
    assert [str(s.key) for s in scan.sequences] == ["001/nm-01/000"]
    by_path = {p.path: p.kind for p in scan.problems}
    assert by_path == {
        str(tmp_path / "notes"): UNEXPECTED_NAME,
        str(tmp_path / "001" / "walking"): UNEXPECTED_NAME,
        str(tmp_path / "001" / "nm-02" / "abc"): UNEXPECTED_NAME,
        str(tmp_path / "001" / "nm-01" / "018"): EMPTY_FOLDER,
        str(tmp_path / "003"): EMPTY_FOLDER,
    }


def test_missing_root_and_empty_root(tmp_path):
    with pytest.raises(DataError, match="dataset root not found") as err:
        scan_tree(tmp_path / "nope")
    assert str(tmp_path / "nope") in str(err.value)
    with pytest.raises(DataError, match="no sequences found"):
        scan_tree(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="not a folder"):
        scan_tree(tmp_path / "file")
    with pytest.raises(ConfigError, match="unknown dataset layout"):
        scan_tree(tmp_path, layout="nope")


def test_ou_mvlp_style_layout(tmp_path):
    write_pkl_sequence(tmp_path, ("00001", "00", "000"), walker(8))
    write_pkl_sequence(tmp_path, ("00001", "01", "090"), walker(8))
    scan = scan_tree(tmp_path, layout="ou-mvlp")
    assert [str(s.key) for s in scan.sequences] == ["00001/00/000", "00001/01/090"]
    assert [str(k) for k in scan.missing_keys()] == ["00001/00/090", "00001/01/000"]
    with pytest.raises(DataError, match="no sequences"):
        scan_tree(tmp_path, layout="casia-b")  # 00001 is not a CASIA-B subject name


def test_pkl_variants(tmp_path):
    write_pkl_sequence(tmp_path, ("001", "nm-01", "000"), walker(6).astype(bool))
    write_pkl_sequence(tmp_path, ("001", "nm-01", "018"), walker(6).astype(np.float32) / 255)
    write_pkl_sequence(tmp_path, ("001", "nm-01", "036"), walker(6)[0])  # one 2-D frame
    write_pkl_sequence(tmp_path, ("001", "nm-01", "054"), np.full((2, 4, 4), 1000.0))
    write_pkl_sequence(tmp_path, ("001", "nm-01", "072"), np.zeros(5))
    results = {str(s.key): read_sequence(s) for s in scan_tree(tmp_path).sequences}
    np.testing.assert_array_equal(results["001/nm-01/000"][0], walker(6))
    np.testing.assert_array_equal(results["001/nm-01/018"][0], walker(6))
    assert results["001/nm-01/036"][0].shape == (1, 64, 64)
    assert kinds(results["001/nm-01/054"][1]) == [UNREADABLE_FILE]
    assert "expected silhouettes" in str(results["001/nm-01/054"][1][0])
    assert kinds(results["001/nm-01/072"][1]) == [UNREADABLE_FILE]


def test_several_pkl_files_prefer_the_view_name(tmp_path):
    path = write_pkl_sequence(tmp_path, ("001", "nm-01", "000"), walker(6))
    (path.parent / "other.pkl").write_bytes(pickle.dumps(np.zeros((2, 8, 8), np.uint8)))
    write_pkl_sequence(tmp_path, ("001", "nm-01", "018"), walker(6))
    (tmp_path / "001" / "nm-01" / "018" / "018.pkl").rename(tmp_path / "001" / "nm-01" / "018" / "a.pkl")
    (tmp_path / "001" / "nm-01" / "018" / "b.pkl").write_bytes(b"")
    scan = scan_tree(tmp_path)
    assert [s.files[0].name for s in scan.sequences] == ["000.pkl"]
    assert kinds(scan.problems) == [AMBIGUOUS]


class _Exploit:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.target}",))


def test_conversion_skips_bad_sequences_and_counts_them(tmp_path):
    root = tmp_path / "data"
    pkl_tree(root, subjects=("001",), conditions=("nm-01",), views=("000", "018"))
    write_pkl_sequence(root, ("001", "nm-01", "036"), np.zeros((10, 64, 64), np.uint8))  # all black
    write_pkl_sequence(root, ("001", "nm-01", "054"), walker(3))  # too short
    evil = write_pkl_sequence(root, ("001", "nm-01", "072"), np.zeros(1))
    evil.write_bytes(pickle.dumps(_Exploit(tmp_path / "pwned")))
    zero = write_pkl_sequence(root, ("001", "nm-01", "090"), walker(8))
    zero.write_bytes(b"")
    summary = convert_scan(scan_tree(root), PretreatConfig(min_frames=5), writer=None, progress=False)
    assert not (tmp_path / "pwned").exists()
    assert summary.sequences_found == 6 and summary.sequences_usable == 2
    by_kind = {p.kind: p.path for p in summary.problems}
    assert by_kind == {
        NO_FOREGROUND: str(root / "001" / "nm-01" / "036"),
        TOO_SHORT: str(root / "001" / "nm-01" / "054"),
        UNSAFE_PICKLE: str(evil),
        UNREADABLE_FILE: str(zero),
    }
    assert len(summary.unusable) == 4
    assert summary.to_dict()["problem_counts"] == {k: 1 for k in sorted(by_kind)}


def test_nothing_usable_is_a_clear_error(tmp_path):
    write_pkl_sequence(tmp_path, ("001", "nm-01", "000"), np.zeros((10, 64, 64), np.uint8))
    with pytest.raises(DataError, match="no usable sequence among 1 found .1 no foreground"):
        convert_scan(scan_tree(tmp_path), PretreatConfig(), writer=None, progress=False)
