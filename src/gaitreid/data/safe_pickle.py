"""Load a pickled numpy array without running anything else that the pickle asks for.

A pickle is a small program: every global it names is imported and may be called. OpenGait's
`.pkl` frames only need the numpy array reconstruction machinery, so the unpickler below admits
exactly those globals and refuses the whole file, naming it and the global, for anything else.
"""

from __future__ import annotations

import _codecs
import io
import pickle
from pathlib import Path

import numpy as np

from gaitreid.errors import DataError, UnsafePickleError

# numpy >= 2 moved numpy.core to numpy._core; pickles written by either name the module they saw.
from numpy._core import multiarray as _multiarray
from numpy._core import numeric as _numeric

_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy.core.multiarray", "scalar"): _multiarray.scalar,
    ("numpy._core.multiarray", "scalar"): _multiarray.scalar,
    # Protocol 5 pickles rebuild contiguous arrays straight from their bytes.
    ("numpy.core.numeric", "_frombuffer"): _numeric._frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _numeric._frombuffer,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    # Protocol 2 pickles spell bytes as _codecs.encode(str, "latin1"): a pure function.
    ("_codecs", "encode"): _codecs.encode,
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def __init__(self, file, path: Path):
        super().__init__(file)
        self._path = path

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"{self._path}: refused unsafe pickle: it names the global {module}.{name} "
                "(only numpy arrays are admitted; nothing in the file was run)"
            ) from None

    def persistent_load(self, pid):
        raise UnsafePickleError(f"{self._path}: refused unsafe pickle: it uses persistent ids")


def load_numpy_pickle(path: str | Path) -> np.ndarray:
    """The numpy array pickled in `path`; UnsafePickleError if it names any other global."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DataError(f"{path}: cannot read: {err.strerror or err}") from None
    if not data:
        raise DataError(f"{path}: empty file (0 bytes)")
    try:
        value = _NumpyOnlyUnpickler(io.BytesIO(data), path).load()
    except UnsafePickleError:
        raise
    except Exception as err:  # truncated or garbled pickles raise many different types
        raise DataError(f"{path}: not a readable pickle ({type(err).__name__}: {err})") from None
    if not isinstance(value, np.ndarray):
        raise DataError(f"{path}: pickle holds a {type(value).__name__}, expected a numpy array")
    if value.dtype.hasobject:
        raise DataError(f"{path}: pickle holds an object array, expected numbers")
    return value
