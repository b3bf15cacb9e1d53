"""The sequence store: a dataset converted once into one memory-mapped array, so training opens no files.

A store is a directory:

    frames.u8      every pretreated frame, uint8, C order, shape [total_frames, height, width]
    index.csv      one row per sequence: subject, condition, view, offset, length (frames)
    manifest.json  format version, source, pretreatment parameters, counts, checksums

Reading a sequence is a slice of the memory map; a random 30-frame clip is a slice too.

Checksums (in the manifest): SHA-256 of index.csv (small); CRC-32 of the whole frames file
(computed while writing, so free; checked by `verify(full=True)`, ~1 s per GB); and CRC-32 of
a fixed sample of 64 KiB blocks spread over the frames file plus its last block, checked at every
open (a few MB read at most). Truncation is caught by the size check, a bad or foreign index by
its hash, and damage inside the frames by the sample (and by the full check when asked).

`StoreWriter` writes into a temporary sibling directory and renames it into place on success,
so a crash never leaves a half-written store under the final name.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import zlib
from pathlib import Path

import numpy as np

from gaitreid.atomic import replace_directory
from gaitreid.data.layout import SequenceKey
from gaitreid.data.pretreat import PretreatConfig
from gaitreid.errors import StoreError

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
FRAMES_FILE = "frames.u8"
INDEX_FILE = "index.csv"
MANIFEST_FILE = "manifest.json"
INDEX_COLUMNS = ("subject", "condition", "view", "offset", "length")

_SAMPLE_BLOCK = 64 * 1024
_SAMPLE_COUNT = 64
_CRC_CHUNK = 16 * 1024 * 1024


def is_store(path: str | Path) -> bool:
    """True when `path` is a directory that looks like a sequence store (has a manifest)."""
    return (Path(path) / MANIFEST_FILE).is_file()


def sampled_crc32(path: Path, size: int) -> int:
    """CRC-32 over 64 fixed, evenly spread 64 KiB blocks and the last block (all of a small file)."""
    crc = 0
    with open(path, "rb") as f:
        for offset in _sample_offsets(size):
            f.seek(offset)
            crc = zlib.crc32(f.read(_SAMPLE_BLOCK), crc)
    return crc


def _sample_offsets(size: int) -> list[int]:
    if size <= _SAMPLE_BLOCK * (_SAMPLE_COUNT + 1):
        return list(range(0, size, _SAMPLE_BLOCK))  # small file: all of it
    step = (size - _SAMPLE_BLOCK) // _SAMPLE_COUNT
    return [i * step for i in range(_SAMPLE_COUNT)] + [size - _SAMPLE_BLOCK]


def full_crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CRC_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc


class StoreWriter:
    """Writes a store; use as a context manager, `add` pretreated sequences, the exit commits.

    with StoreWriter(path, pretreat, source="/data/casia-b") as writer:
        writer.add(SequenceKey("001", "nm-01", "090"), frames)  # [T, height, width] uint8

    `extra` is stored in the manifest (e.g. the conversion summary, the cache key).
    An exception inside the block discards everything written.
    """

    def __init__(self, path: str | Path, pretreat: PretreatConfig, source: str, extra: dict | None = None):
        self.path = Path(path)
        self.pretreat = pretreat
        self.source = str(source)
        self.extra = dict(extra or {})
        self._rows: list[tuple[str, str, str, int, int]] = []
        self._seen: set[SequenceKey] = set()
        self._offset = 0
        self._crc = 0
        self._tmp: Path | None = None
        self._frames_file = None

    def __enter__(self) -> "StoreWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.tmp-", dir=self.path.parent))
        self._frames_file = open(self._tmp / FRAMES_FILE, "wb")
        return self

    def add(self, key: SequenceKey, frames: np.ndarray) -> None:
        """Append one pretreated sequence [T, height, width] uint8 (T >= 1)."""
        if self._frames_file is None:
            raise RuntimeError("StoreWriter.add outside its `with` block")
        shape = (self.pretreat.height, self.pretreat.width)
        if frames.ndim != 3 or frames.shape[1:] != shape or frames.dtype != np.uint8:
            raise ValueError(f"{key}: expected [T, {shape[0]}, {shape[1]}] uint8, got {frames.shape} {frames.dtype}")
        if len(frames) == 0:
            raise ValueError(f"{key}: empty sequence")
        if key in self._seen:
            raise ValueError(f"{key}: added twice")
        self._seen.add(key)
        data = np.ascontiguousarray(frames).tobytes()
        self._frames_file.write(data)
        self._crc = zlib.crc32(data, self._crc)
        self._rows.append((key.subject, key.condition, key.view, self._offset, len(frames)))
        self._offset += len(frames)

    def __exit__(self, exc_type, exc, tb) -> None:
        self._frames_file.close()
        self._frames_file = None
        if exc_type is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            return
        try:
            self._commit()
        except BaseException:
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise

    def _commit(self) -> None:
        if not self._rows:
            raise StoreError(f"{self.path}: no usable sequence to store (source {self.source})")
        index_bytes = _index_csv(self._rows)
        (self._tmp / INDEX_FILE).write_bytes(index_bytes)
        frames_path = self._tmp / FRAMES_FILE
        frames_bytes = frames_path.stat().st_size
        manifest = {
            "format_version": FORMAT_VERSION,
            "source": self.source,
            "pretreat": self.pretreat.to_dict(),
            "frame_shape": [self.pretreat.height, self.pretreat.width],
            "num_sequences": len(self._rows),
            "num_frames": self._offset,
            "num_subjects": len({row[0] for row in self._rows}),
            "frames_bytes": frames_bytes,
            "index_sha256": hashlib.sha256(index_bytes).hexdigest(),
            "frames_crc32": self._crc,
            "frames_sample_crc32": sampled_crc32(frames_path, frames_bytes),
            **self.extra,
        }
        with open(self._tmp / MANIFEST_FILE, "w") as f:
            json.dump(manifest, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        replace_directory(self._tmp, self.path)


def _index_csv(rows: list[tuple]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(INDEX_COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue().encode()


class SequenceStore:
    """Read access to a store: keys, lengths, zero-copy frames, random clips, selection by key fields."""

    def __init__(self, path: Path, manifest: dict, keys: list[SequenceKey], offsets: np.ndarray,
                 lengths: np.ndarray, frames: np.memmap):
        self.path = path
        self.manifest = manifest
        self.keys = keys
        self.offsets = offsets
        self.lengths = lengths
        self._frames = frames

    # ---- opening and checking -------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, verify: str = "sample") -> "SequenceStore":
        """Open a store; `verify` is "none", "sample" (default: cheap) or "full" (whole-file CRC)."""
        path = Path(path)
        manifest = read_manifest(path)
        index_path = path / INDEX_FILE
        try:
            index_bytes = index_path.read_bytes()
        except OSError:
            raise StoreError(f"{index_path}: missing index; rebuild the store") from None
        if hashlib.sha256(index_bytes).hexdigest() != manifest["index_sha256"]:
            raise StoreError(f"{index_path}: index checksum does not match the manifest; rebuild the store")
        keys, offsets, lengths = _parse_index(index_bytes, index_path)
        height, width = manifest["frame_shape"]
        frames_path = path / FRAMES_FILE
        expected = manifest["num_frames"] * height * width
        size = frames_path.stat().st_size if frames_path.is_file() else -1
        if size != expected or manifest["frames_bytes"] != expected:
            raise StoreError(f"{frames_path}: {size} bytes, expected {expected} (truncated or damaged); rebuild the store")
        if len(keys) != manifest["num_sequences"] or int(lengths.sum()) != manifest["num_frames"] or (
            len(keys) and (offsets[0] != 0 or np.any(offsets[1:] != np.cumsum(lengths)[:-1]))
        ):
            raise StoreError(f"{index_path}: index disagrees with the manifest counts; rebuild the store")
        if verify == "sample" and sampled_crc32(frames_path, size) != manifest["frames_sample_crc32"]:
            raise StoreError(f"{frames_path}: frame data checksum mismatch (damaged); rebuild the store")
        if verify == "full" and full_crc32(frames_path) != manifest["frames_crc32"]:
            raise StoreError(f"{frames_path}: frame data checksum mismatch (damaged); rebuild the store")
        frames = np.memmap(frames_path, dtype=np.uint8, mode="r", shape=(manifest["num_frames"], height, width))
        return cls(path, manifest, keys, offsets, lengths, frames)

    def verify(self, full: bool = True) -> None:
        """Raise StoreError when the frames file no longer matches its checksum."""
        SequenceStore.open(self.path, verify="full" if full else "sample")

    # ---- what is inside -------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.keys)

    @property
    def frame_shape(self) -> tuple[int, int]:
        return tuple(self.manifest["frame_shape"])

    @property
    def pretreat(self) -> PretreatConfig:
        return PretreatConfig.from_dict(self.manifest["pretreat"])

    @property
    def num_frames(self) -> int:
        return int(self.manifest["num_frames"])

    @property
    def subjects(self) -> list[str]:
        return sorted({k.subject for k in self.keys})

    @property
    def conditions(self) -> list[str]:
        return sorted({k.condition for k in self.keys})

    @property
    def views(self) -> list[str]:
        return sorted({k.view for k in self.keys})

    def indices(self, subjects=None, conditions=None, views=None) -> np.ndarray:
        """Positions of the sequences whose fields are in the given collections (None: any)."""
        subjects = None if subjects is None else set(subjects)
        conditions = None if conditions is None else set(conditions)
        views = None if views is None else set(views)
        chosen = [
            i for i, k in enumerate(self.keys)
            if (subjects is None or k.subject in subjects)
            and (conditions is None or k.condition in conditions)
            and (views is None or k.view in views)
        ]
        return np.asarray(chosen, dtype=np.int64)

    # ---- reading frames -------------------------------------------------------------------
    def frames(self, i: int) -> np.ndarray:
        """[T, H, W] uint8: sequence `i`, a read-only slice of the memory map (no copy)."""
        start = int(self.offsets[i])
        return self._frames[start : start + int(self.lengths[i])]

    def clip(self, i: int, length: int, rng: np.random.Generator) -> np.ndarray:
        """[length, H, W] uint8: a random contiguous clip of sequence `i`.

        A slice of the memory map when the sequence is long enough; a shorter one is looped
        from a random start (that copies, the only case that does).
        """
        start = int(self.offsets[i])
        total = int(self.lengths[i])
        if total >= length:
            first = start + int(rng.integers(0, total - length + 1))
            return self._frames[first : first + length]
        order = (int(rng.integers(0, total)) + np.arange(length)) % total
        return self._frames[start + order]

    # ---- pickling (DataLoader workers started by spawn) ---------------------------------
    def __getstate__(self) -> dict:
        """Pickle the path, not the frames: the receiving process maps the file itself."""
        state = self.__dict__.copy()
        del state["_frames"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        h, w = self.frame_shape
        self._frames = np.memmap(self.path / FRAMES_FILE, dtype=np.uint8, mode="r", shape=(self.num_frames, h, w))

    def __repr__(self) -> str:
        h, w = self.frame_shape
        return f"SequenceStore({str(self.path)!r}, {len(self)} sequences, {self.num_frames} frames of {h}x{w})"


def read_manifest(path: Path) -> dict:
    manifest_path = path / MANIFEST_FILE
    if not path.is_dir():
        raise StoreError(f"{path}: no such store directory")
    try:
        with open(manifest_path) as f:
            manifest = json.load(f)
    except FileNotFoundError:
        raise StoreError(f"{manifest_path}: missing manifest; not a store or an interrupted build") from None
    except (OSError, ValueError) as err:
        raise StoreError(f"{manifest_path}: unreadable manifest ({err}); rebuild the store") from None
    if not isinstance(manifest, dict):
        raise StoreError(f"{manifest_path}: manifest is not a JSON object; rebuild the store")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise StoreError(
            f"{manifest_path}: store format version {manifest.get('format_version')!r}, "
            f"this gaitreid reads version {FORMAT_VERSION}; rebuild the store"
        )
    required = ("frame_shape", "num_frames", "num_sequences", "frames_bytes", "index_sha256",
                "frames_crc32", "frames_sample_crc32", "pretreat", "source")
    missing = [name for name in required if name not in manifest]
    if missing:
        raise StoreError(f"{manifest_path}: manifest lacks {', '.join(missing)}; rebuild the store")
    return manifest


def _parse_index(data: bytes, path: Path) -> tuple[list[SequenceKey], np.ndarray, np.ndarray]:
    rows = list(csv.reader(io.StringIO(data.decode())))
    if not rows or tuple(rows[0]) != INDEX_COLUMNS:
        raise StoreError(f"{path}: bad index header; rebuild the store")
    keys, offsets, lengths = [], [], []
    try:
        for subject, condition, view, offset, length in rows[1:]:
            keys.append(SequenceKey(subject, condition, view))
            offsets.append(int(offset))
            lengths.append(int(length))
    except ValueError:
        raise StoreError(f"{path}: malformed index row; rebuild the store") from None
    return keys, np.asarray(offsets, dtype=np.int64), np.asarray(lengths, dtype=np.int64)


def build_store(source_root, pretreat: PretreatConfig | None = None, cache_root=None,
                layout: str = "casia-b", **options) -> SequenceStore:
    """Convert a dataset tree into a store, or reuse the matching cached one (see gaitreid.data.cache)."""
    from gaitreid.data.cache import build_store as _build_store

    return _build_store(source_root, pretreat=pretreat, cache_root=cache_root, layout=layout, **options)
