"""The numpy-only unpickler: arrays load, anything else is refused before it can run."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from gaitreid.data.safe_pickle import load_numpy_pickle
from gaitreid.errors import DataError, UnsafePickleError


class _CreatesAFile:
    """Unpickling this calls os.system to create a file: the classic pickle exploit."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def test_loads_uint8_frames_in_every_protocol(tmp_path):
    frames = np.arange(2 * 64 * 64, dtype=np.int64).reshape(2, 64, 64).astype(np.uint8)
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        path = tmp_path / f"p{protocol}.pkl"
        path.write_bytes(pickle.dumps(frames, protocol=protocol))
        np.testing.assert_array_equal(load_numpy_pickle(path), frames)


def test_loads_the_numpy1_module_name(tmp_path):
    """Pickles written under numpy 1 name numpy.core.multiarray; they must load too."""
    data = pickle.dumps(np.ones((1, 4, 4), np.uint8), protocol=2)  # protocol 2: no frame lengths
    data = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"numpy.core.multiarray" in data
    path = tmp_path / "old.pkl"
    path.write_bytes(data)
    assert load_numpy_pickle(path).shape == (1, 4, 4)


def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path):
    target = tmp_path / "pwned"
    path = tmp_path / "000.pkl"
    path.write_bytes(pickle.dumps(_CreatesAFile(target)))
    with pytest.raises(UnsafePickleError) as err:
        load_numpy_pickle(path)
    assert not target.exists()
    message = str(err.value)
    assert str(path) in message
    assert "system" in message  # names the global it refused (posix.system / nt.system)


def test_a_malicious_global_nested_inside_an_array_pickle_is_refused(tmp_path):
    target = tmp_path / "pwned"
    path = tmp_path / "nested.pkl"
    path.write_bytes(pickle.dumps([np.zeros((1, 2, 2), np.uint8), _CreatesAFile(target)]))
    with pytest.raises(UnsafePickleError):
        load_numpy_pickle(path)
    assert not target.exists()


@pytest.mark.parametrize(
    "payload, expected",
    [
        (b"", "empty file"),
        (b"\x80\x04garbage", "not a readable pickle"),
        (pickle.dumps(np.zeros((2, 2, 2), np.uint8))[:40], "not a readable pickle"),
        (pickle.dumps({"a": 1}), "expected a numpy array"),
    ],
)
def test_broken_or_wrong_pickles_name_the_file(tmp_path, payload, expected):
    path = tmp_path / "bad.pkl"
    path.write_bytes(payload)
    with pytest.raises(DataError) as err:
        load_numpy_pickle(path)
    assert str(path) in str(err.value) and expected in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        load_numpy_pickle(tmp_path / "nope.pkl")
