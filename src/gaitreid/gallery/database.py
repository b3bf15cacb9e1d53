"""The gallery: a SQLite file of enrolled identities, their sequences and embeddings.

Why SQLite: one file, transactions, and safe concurrent writers. Each enrolment is one
`BEGIN IMMEDIATE` transaction, so two processes enrolling at once queue instead of losing rows
(`busy_timeout`), and a process that dies mid-enrolment leaves nothing half-written (the
transaction is rolled back when the file is next opened). WAL mode lets readers (identify) run
while a writer enrols.

The gallery is bound to one model: its fingerprint is stored once, at the first enrolment, and
embeddings from any other model are refused (distances between two models' embeddings mean
nothing).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from gaitreid.errors import GaitReidError

SCHEMA_VERSION = 1
BUSY_TIMEOUT_SECONDS = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS model (
    id INTEGER PRIMARY KEY CHECK (id = 1),      -- one model per gallery
    fingerprint TEXT NOT NULL,
    description TEXT NOT NULL,                  -- JSON: checkpoint path, architecture, ...
    embedding_shape TEXT NOT NULL,              -- JSON [c, p]
    bound_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS identities (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sequences (
    id INTEGER PRIMARY KEY,
    identity_id INTEGER NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
    enrolment TEXT NOT NULL,                    -- one id per enrol call, its sequences land together
    source TEXT NOT NULL,                       -- the path the sequence was read from
    frames INTEGER NOT NULL,                    -- frames after pretreatment
    enrolled_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sequences_by_identity ON sequences(identity_id);
CREATE TABLE IF NOT EXISTS embeddings (
    sequence_id INTEGER PRIMARY KEY REFERENCES sequences(id) ON DELETE CASCADE,
    shape TEXT NOT NULL,                        -- JSON [c, p], data is float32 in C order
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL                         -- JSON
);
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class ModelBinding:
    """The model a gallery's embeddings come from."""

    fingerprint: str
    description: dict
    embedding_shape: tuple[int, int]


@dataclass(frozen=True)
class NewSequence:
    """One sequence to enrol: where it came from, how many frames, its embedding [c, p]."""

    source: str
    frames: int
    embedding: np.ndarray


@dataclass(frozen=True)
class IdentitySummary:
    name: str
    sequences: int
    created_at: str
    last_enrolled_at: str


@dataclass(frozen=True)
class GalleryEmbeddings:
    """Every enrolled embedding, loaded for search: row i belongs to `identities[i]`."""

    embeddings: np.ndarray  # [N, c, p] float32
    identities: np.ndarray  # [N] str (object)
    sequence_ids: np.ndarray  # [N] int64
    sources: list[str]


class Gallery:
    """One gallery file. Open with `Gallery.open(path, create=...)`; close or use `with`."""

    def __init__(self, path: Path, connection: sqlite3.Connection):
        self.path = path
        self._db = connection

    # ---------------------------------------------------------------- opening

    @classmethod
    def open(cls, path: str | Path, create: bool = False) -> "Gallery":
        path = Path(path)
        if not path.exists() and not create:
            raise GaitReidError(f"{path}: no gallery here (enrol someone first with `gaitreid enrol`)")
        if path.is_dir():
            raise GaitReidError(f"{path}: is a directory, expected a gallery file")
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves; timeout = busy_timeout.
            connection = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        except sqlite3.Error as err:
            raise GaitReidError(f"{path}: cannot open the gallery ({err})") from err
        gallery = cls(path, connection)
        try:
            with gallery._sql("opening"):
                connection.execute("PRAGMA foreign_keys = ON")
                mode = _switch_to_wal(connection)
                if str(mode).lower() != "wal":
                    raise GaitReidError(f"{path}: cannot switch the gallery to WAL mode (got {mode})")
                gallery._ensure_schema(create)
        except BaseException:
            connection.close()
            raise
        return gallery

    def _ensure_schema(self, create: bool) -> None:
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "schema_version" not in tables:
            if tables or not create:
                raise GaitReidError(f"{self.path}: not a gaitreid gallery (an SQLite file without its tables)")
            with self._transaction():
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                if self._db.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == 0:
                    self._db.execute("INSERT INTO schema_version(version) VALUES (?)", (SCHEMA_VERSION,))
        row = self._db.execute("SELECT version FROM schema_version").fetchone()
        if row is None:
            raise GaitReidError(f"{self.path}: not a gaitreid gallery (no schema version recorded)")
        if row[0] != SCHEMA_VERSION:
            raise GaitReidError(
                f"{self.path}: gallery schema version {row[0]}, this gaitreid reads version {SCHEMA_VERSION}"
            )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Gallery":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---------------------------------------------------------------- plumbing

    @contextlib.contextmanager
    def _sql(self, doing: str) -> Iterator[None]:
        """Turn SQLite's errors (corrupt file, locked too long) into one clear line naming the file."""
        try:
            yield
        except sqlite3.DatabaseError as err:
            raise GaitReidError(f"{self.path}: gallery unreadable or corrupt while {doing} (SQLite: {err})") from err

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """A write transaction taken up front (IMMEDIATE), so concurrent writers queue, not fail."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def integrity_problems(self) -> list[str]:
        """SQLite's full integrity check plus our own invariants; empty when the gallery is sound."""
        with self._sql("checking integrity"):
            problems = [row[0] for row in self._db.execute("PRAGMA integrity_check") if row[0] != "ok"]
            problems += [f"foreign key violation in {row[0]}" for row in self._db.execute("PRAGMA foreign_key_check")]
            orphans = self._db.execute(
                "SELECT COUNT(*) FROM sequences s LEFT JOIN embeddings e ON e.sequence_id = s.id WHERE e.sequence_id IS NULL"
            ).fetchone()[0]
            if orphans:
                problems.append(f"{orphans} sequences without an embedding")
        return problems

    # ---------------------------------------------------------------- model binding

    def model(self) -> ModelBinding | None:
        with self._sql("reading the model"):
            row = self._db.execute("SELECT fingerprint, description, embedding_shape FROM model").fetchone()
        if row is None:
            return None
        return ModelBinding(row[0], json.loads(row[1]), tuple(json.loads(row[2])))

    def check_model(self, fingerprint: str) -> None:
        """Refuse a model other than the one this gallery's embeddings came from."""
        bound = self.model()
        if bound is not None and bound.fingerprint != fingerprint:
            described = bound.description.get("checkpoint", "unknown checkpoint")
            raise GaitReidError(
                f"{self.path}: gallery holds embeddings of model {bound.fingerprint} ({described}); "
                f"this model is {fingerprint}: embeddings of different models cannot be compared "
                "(use the gallery's model, or a new gallery)"
            )

    def _bind_model(self, binding: ModelBinding) -> None:
        """Inside a transaction: store the model on first use, or check it is the same one."""
        row = self._db.execute("SELECT fingerprint FROM model").fetchone()
        if row is None:
            self._db.execute(
                "INSERT INTO model(id, fingerprint, description, embedding_shape, bound_at) VALUES (1, ?, ?, ?, ?)",
                (binding.fingerprint, json.dumps(binding.description), json.dumps(list(binding.embedding_shape)), _now()),
            )
        else:
            self.check_model(binding.fingerprint)

    # ---------------------------------------------------------------- writing

    def enrol(self, identity: str, sequences: Sequence[NewSequence], model: ModelBinding) -> str:
        """Add sequences to `identity` (created if new) in one transaction; returns the enrolment id."""
        identity = identity.strip()
        if not identity:
            raise GaitReidError(f"{self.path}: an identity name cannot be empty")
        if not sequences:
            raise GaitReidError(f"{self.path}: nothing to enrol for {identity!r} (no sequences)")
        shape = tuple(model.embedding_shape)
        for seq in sequences:
            if tuple(seq.embedding.shape) != shape:
                raise GaitReidError(
                    f"{seq.source}: embedding shape {tuple(seq.embedding.shape)} differs from the model's {shape}"
                )
            if not np.all(np.isfinite(seq.embedding)):
                raise GaitReidError(f"{seq.source}: embedding has non-finite values; not enrolled")
        enrolment = uuid.uuid4().hex
        now = _now()
        with self._sql(f"enrolling {identity!r}"), self._transaction():
            self._bind_model(model)
            self._db.execute("INSERT OR IGNORE INTO identities(name, created_at) VALUES (?, ?)", (identity, now))
            identity_id = self._db.execute("SELECT id FROM identities WHERE name = ?", (identity,)).fetchone()[0]
            for seq in sequences:
                self._insert_sequence(identity_id, enrolment, seq, now)
            self._bump_revision()
        return enrolment

    def _bump_revision(self) -> None:
        """Inside a write transaction: count changes, so derived files (the index) know they are stale."""
        self._db.execute(
            "INSERT INTO settings(key, value) VALUES ('revision', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    def revision(self) -> int:
        """Increases with every enrolment and removal."""
        value = self.setting("revision")
        return int(value) if value is not None else 0

    def _insert_sequence(self, identity_id: int, enrolment: str, seq: NewSequence, now: str) -> None:
        cursor = self._db.execute(
            "INSERT INTO sequences(identity_id, enrolment, source, frames, enrolled_at) VALUES (?, ?, ?, ?, ?)",
            (identity_id, enrolment, seq.source, int(seq.frames), now),
        )
        data = np.ascontiguousarray(seq.embedding, dtype=np.float32)
        self._db.execute(
            "INSERT INTO embeddings(sequence_id, shape, data) VALUES (?, ?, ?)",
            (cursor.lastrowid, json.dumps(list(data.shape)), data.tobytes()),
        )

    def remove(self, identity: str) -> int:
        """Delete an identity and all its sequences; returns how many sequences went."""
        with self._sql(f"removing {identity!r}"), self._transaction():
            row = self._db.execute("SELECT id FROM identities WHERE name = ?", (identity,)).fetchone()
            if row is None:
                raise GaitReidError(f"{self.path}: no identity named {identity!r} in this gallery")
            count = self._db.execute("SELECT COUNT(*) FROM sequences WHERE identity_id = ?", (row[0],)).fetchone()[0]
            self._db.execute("DELETE FROM identities WHERE id = ?", (row[0],))
            self._bump_revision()
        return count

    def set_setting(self, key: str, value: dict) -> None:
        with self._sql(f"storing {key}"), self._transaction():
            self._db.execute("INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def setting(self, key: str) -> dict | None:
        with self._sql(f"reading {key}"):
            row = self._db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    # ---------------------------------------------------------------- reading

    def identities(self) -> list[IdentitySummary]:
        with self._sql("listing identities"):
            rows = self._db.execute(
                "SELECT i.name, COUNT(s.id), i.created_at, COALESCE(MAX(s.enrolled_at), i.created_at) "
                "FROM identities i LEFT JOIN sequences s ON s.identity_id = i.id GROUP BY i.id ORDER BY i.name"
            ).fetchall()
        return [IdentitySummary(*row) for row in rows]

    def enrolments(self) -> dict[str, int]:
        """Sequences per enrolment id (used to check that enrolments land whole)."""
        with self._sql("counting enrolments"):
            rows = self._db.execute("SELECT enrolment, COUNT(*) FROM sequences GROUP BY enrolment").fetchall()
        return dict(rows)

    def __len__(self) -> int:
        with self._sql("counting sequences"):
            return self._db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]

    @contextlib.contextmanager
    def read_transaction(self) -> Iterator[None]:
        """Reads inside see one state of the gallery (WAL snapshot), whatever writers do meanwhile."""
        with self._sql("reading"):
            self._db.execute("BEGIN")
            try:
                yield
            finally:
                self._db.execute("COMMIT")

    def snapshot(self) -> tuple[int, GalleryEmbeddings]:
        """(revision, embeddings) read in one transaction, so they describe the same gallery state."""
        with self.read_transaction():
            return self.revision(), self.load_embeddings()

    def load_labels(self) -> GalleryEmbeddings:
        """Identities, sequence ids and sources of every row, without the embeddings (an empty matrix)."""
        with self._sql("loading labels"):
            rows = self._db.execute(
                "SELECT s.id, i.name, s.source FROM sequences s JOIN identities i ON i.id = s.identity_id ORDER BY s.id"
            ).fetchall()
        return GalleryEmbeddings(
            embeddings=np.empty((0, 0, 0), dtype=np.float32),
            identities=np.array([row[1] for row in rows], dtype=object),
            sequence_ids=np.array([row[0] for row in rows], dtype=np.int64),
            sources=[row[2] for row in rows],
        )

    def write_embeddings(self, path: Path) -> np.ndarray:
        """Stream every embedding (row order of `load_labels`) into a .npy file; returns it memory-mapped.

        Never holds the whole matrix in memory: large galleries search it from disk.
        """
        bound = self.model()
        shape = bound.embedding_shape if bound else (0, 0)
        size = 4 * int(np.prod(shape))
        matrix = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(len(self), *shape))
        with self._sql("copying embeddings"):
            cursor = self._db.execute(
                "SELECT s.source, e.data FROM sequences s JOIN embeddings e ON e.sequence_id = s.id ORDER BY s.id"
            )
            for i, (source, data) in enumerate(cursor):
                if len(data) != size:
                    raise GaitReidError(f"{self.path}: stored embedding of {source} has the wrong size")
                matrix[i] = np.frombuffer(data, dtype=np.float32).reshape(shape)
        matrix.flush()
        return matrix

    def load_embeddings(self) -> GalleryEmbeddings:
        """All embeddings as one matrix [N, c, p] for search."""
        bound = self.model()
        shape = bound.embedding_shape if bound else (0, 0)
        with self._sql("loading embeddings"):
            rows = self._db.execute(
                "SELECT s.id, i.name, s.source, e.shape, e.data FROM sequences s "
                "JOIN identities i ON i.id = s.identity_id JOIN embeddings e ON e.sequence_id = s.id ORDER BY s.id"
            ).fetchall()
        matrix = np.empty((len(rows), *shape), dtype=np.float32)
        for i, (_, _, source, row_shape, data) in enumerate(rows):
            if tuple(json.loads(row_shape)) != tuple(shape) or len(data) != 4 * int(np.prod(shape)):
                raise GaitReidError(f"{self.path}: stored embedding of {source} has the wrong shape or size")
            matrix[i] = np.frombuffer(data, dtype=np.float32).reshape(shape)
        return GalleryEmbeddings(
            embeddings=matrix,
            identities=np.array([row[1] for row in rows], dtype=object),
            sequence_ids=np.array([row[0] for row in rows], dtype=np.int64),
            sources=[row[2] for row in rows],
        )


def _switch_to_wal(connection: sqlite3.Connection) -> str:
    """Put the file in WAL mode (persistent, so usually already done) and return the mode.

    Switching needs an exclusive lock and SQLite answers "database is locked" at once, without its
    busy timeout, when another process is opening the same new file: retry until the timeout."""
    mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while str(mode).lower() != "wal":
        try:
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
        else:
            break
    return mode
