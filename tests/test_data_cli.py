"""`gaitreid data info|convert`: return codes and messages, never a traceback for a user error."""

from __future__ import annotations

import numpy as np

from data_trees import pkl_tree, walker, write_pkl_sequence, write_png_sequence
from gaitreid.cli.main import main


def test_info_on_a_tree_lists_counts_missing_and_unusable(tmp_path, capsys):
    root = tmp_path / "data"
    pkl_tree(root, subjects=("001", "002"), conditions=("nm-01",), views=("000", "090"))
    write_pkl_sequence(root, ("002", "bg-01", "018"), np.zeros((9, 64, 64), np.uint8))
    folder = write_png_sequence(root, ("002", "cl-01", "036"), walker(6, 240, 320))
    (folder / "002-cl-01-036-002.png").write_bytes(b"")
    assert main(["data", "info", str(root)]) == 0
    out = capsys.readouterr().out
    assert "subjects   2: 001 002" in out
    assert "views      4: 000 018 036 090" in out
    assert "sequences  6 found, 5 usable, 1 unusable, 214 missing" in out
    assert "1 no foreground" in out and "1 unreadable file" in out
    assert "002/bg-01/018: all 9 frames are black" in out
    assert f"{folder / '002-cl-01-036-002.png'}: empty file (0 bytes)" in out


def test_info_quick_only_scans(tmp_path, capsys):
    write_png_sequence(tmp_path, ("001", "nm-01", "000"), walker(7))
    assert main(["data", "info", "--quick", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "1 found, 109 missing" in out and "7 PNG frames" in out


def test_convert_then_info_on_the_store(tmp_path, capsys):
    root = tmp_path / "data"
    pkl_tree(root)
    cache = tmp_path / "cache"
    assert main(["data", "convert", str(root), "--height", "32", "--width", "22", "--cache", str(cache)]) == 0
    out = capsys.readouterr().out
    (store_dir,) = [p for p in cache.iterdir() if not p.name.startswith(".")]
    assert f"store      {store_dir}" in out
    assert "frames" in out and "of 32x22" in out
    assert main(["data", "info", str(store_dir), "--verify"]) == 0
    out = capsys.readouterr().out
    assert "sequences  8" in out and f"source     {root}" in out
    assert main(["data", "convert", str(root), "--height", "32", "--width", "22", "--cache", str(cache)]) == 0
    assert len([p for p in cache.iterdir() if not p.name.startswith(".")]) == 1  # reused


def test_user_errors_are_one_line_and_exit_2(tmp_path, capsys):
    cases = [
        (["data", "info", str(tmp_path / "missing")], "dataset root not found"),
        (["data", "convert", str(tmp_path / "missing"), "--cache", str(tmp_path / "c")], "dataset root not found"),
        (["data", "info", str(tmp_path), "--layout", "bogus"], "unknown dataset layout"),
        (["data", "convert", str(tmp_path), "--height", "2", "--cache", str(tmp_path / "c")], "too small"),
        (["data", "info", str(tmp_path)], "no sequences found"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (argv, err)
    root = tmp_path / "black"
    write_pkl_sequence(root, ("001", "nm-01", "000"), np.zeros((9, 64, 64), np.uint8))
    assert main(["data", "convert", str(root), "--cache", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "no usable sequence among 1 found" in err and "Traceback" not in err
    assert str(root / "001" / "nm-01" / "000") in err  # the error itself names the offending sequence
