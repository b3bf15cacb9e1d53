"""The steps behind `gaitreid enrol` and `gaitreid identify`, usable from Python too.

    enrol_paths("people.db", "runs/demo", "alice", ["walk1/", "walk2.pkl"])
    result = identify_path("people.db", "unknown_walk.avi")
    print(result.identity or "unknown")

The gallery remembers which checkpoint it was built with, so identify needs no --model; a model
given explicitly must be the same one (same fingerprint).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from gaitreid.errors import GaitReidError
from gaitreid.gallery import search as search_module
from gaitreid.gallery.database import Gallery, GalleryEmbeddings, ModelBinding, NewSequence
from gaitreid.gallery.identify import OPEN_SET_SETTING, Identification, Identifier
from gaitreid.gallery.search import IndexSearch, faiss_available
from gaitreid.gallery.sources import load_sequence

log = logging.getLogger(__name__)

DEFAULT_METRIC = "euclidean"


def load_embedder(checkpoint: str | Path):
    from gaitreid.inference import Embedder

    return Embedder.from_checkpoint(checkpoint)


def model_binding(embedder, embedding_shape: tuple[int, int], checkpoint: str | Path) -> ModelBinding:
    """What the gallery records about the model: fingerprint, where it is, what it is."""
    config = getattr(embedder, "model_config", None)
    # the checkpoint directory actually loaded (a run directory's "best" may move on later)
    loaded = getattr(embedder, "source", "") or checkpoint
    description = {
        "checkpoint": str(Path(loaded).resolve()),
        "given_as": str(checkpoint),
        "model": config.to_dict() if hasattr(config, "to_dict") else type(embedder.model).__name__,
        "pretreat": embedder.pretreat.to_dict(),
    }
    return ModelBinding(embedder.fingerprint, description, tuple(int(s) for s in embedding_shape))


def embed_paths(embedder, paths: Sequence[str | Path]) -> list[NewSequence]:
    """Read, pretreat and embed each sequence (errors name the sequence)."""
    sequences = []
    for path in paths:
        frames = load_sequence(path, embedder.pretreat)
        sequences.append(NewSequence(source=str(Path(path).resolve()), frames=len(frames), embedding=embedder.embed(frames)))
    return sequences


def enrol_paths(gallery_path: str | Path, checkpoint: str | Path, identity: str,
                paths: Sequence[str | Path], embedder=None) -> tuple[str, list[NewSequence]]:
    """Embed `paths` and add them to `identity` in one transaction (all or nothing)."""
    if not paths:
        raise GaitReidError("enrol: give at least one SEQUENCE")
    embedder = embedder or load_embedder(checkpoint)
    with Gallery.open(gallery_path, create=True) as gallery:
        gallery.check_model(embedder.fingerprint)  # fail before the (slow) embedding
        sequences = embed_paths(embedder, paths)
        binding = model_binding(embedder, sequences[0].embedding.shape, checkpoint)
        enrolment = gallery.enrol(identity, sequences, binding)
    return enrolment, sequences


def gallery_embedder(gallery: Gallery, checkpoint: str | Path | None = None):
    """The embedder of the gallery's model: from `checkpoint`, else the one it was built with."""
    bound = gallery.model()
    if bound is None:
        raise GaitReidError(f"{gallery.path}: the gallery is empty (enrol someone first)")
    embedder = load_embedder(checkpoint or bound.description["checkpoint"])
    gallery.check_model(embedder.fingerprint)
    return embedder


def open_set_threshold(gallery: Gallery) -> tuple[float | None, str]:
    """(threshold or None when never calibrated, metric)."""
    calibration = gallery.setting(OPEN_SET_SETTING)
    if calibration is None:
        return None, DEFAULT_METRIC
    return float(calibration["threshold"]), calibration["metric"]


def index_path(gallery_path: str | Path) -> Path:
    """Where a gallery's search index is kept: beside it, `GALLERY.faiss` (+ `.json` stamp)."""
    return Path(f"{gallery_path}.faiss")


def cached_index(gallery_path: str | Path, stored: GalleryEmbeddings, metric: str, revision: int, fingerprint: str) -> IndexSearch:
    """The gallery's index, loaded when its stamp matches the gallery's state, else built and saved.

    Building costs far more than one exact search; kept on disk, it is paid once per change
    of the gallery, not once per `identify`.
    """
    path = index_path(gallery_path)
    stamp_path = Path(f"{path}.json")
    stamp = {"revision": revision, "rows": len(stored.identities), "metric": metric, "fingerprint": fingerprint}
    try:
        if json.loads(stamp_path.read_text()) == stamp:
            return IndexSearch.load(path, stored.embeddings, metric)
    except (OSError, ValueError, RuntimeError, GaitReidError) as err:
        log.info("rebuilding the search index of %s (%s)", gallery_path, err)
    search = IndexSearch(stored.embeddings, metric)
    try:
        search.save(path)
        write_stamp(stamp_path, stamp)
    except (OSError, RuntimeError) as err:  # a read-only folder: search still works, unsaved
        log.warning("could not save the search index beside %s: %s", gallery_path, err)
    return search


# Galleries at least this large keep their embeddings in a .npy beside the gallery too, searched
# memory-mapped: reading 1e5+ blobs out of SQLite on every identify costs seconds (and 1e6 would
# not fit in memory twice). Refreshed when the gallery's revision changes.
MATRIX_CACHE_MIN_ROWS = 20_000


def load_for_search(gallery: Gallery, gallery_path: str | Path) -> tuple[int, GalleryEmbeddings]:
    """(revision, embeddings) of one consistent gallery state; large galleries come memory-mapped."""
    with gallery.read_transaction():
        revision = gallery.revision()
        if len(gallery) < MATRIX_CACHE_MIN_ROWS:
            return revision, gallery.load_embeddings()
        labels = gallery.load_labels()
        path = Path(f"{gallery_path}.embeddings.npy")
        stamp_path = Path(f"{path}.json")
        stamp = {"revision": revision, "rows": len(labels.identities)}
        matrix = None
        try:
            if json.loads(stamp_path.read_text()) == stamp:
                matrix = np.load(path, mmap_mode="r")
                if len(matrix) != stamp["rows"]:
                    matrix = None
        except (OSError, ValueError):
            matrix = None
        if matrix is None:
            tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.npy")
            gallery.write_embeddings(tmp)
            os.replace(tmp, path)
            write_stamp(stamp_path, stamp)
            matrix = np.load(path, mmap_mode="r")
    return revision, GalleryEmbeddings(matrix, labels.identities, labels.sequence_ids, labels.sources)


def write_stamp(path: Path, stamp: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(stamp))
    os.replace(tmp, path)


def identify_path(gallery_path: str | Path, path: str | Path, top_k: int = 5, checkpoint: str | Path | None = None,
                  method: str = "auto", embedder=None) -> Identification:
    with Gallery.open(gallery_path) as gallery:
        embedder = embedder or gallery_embedder(gallery, checkpoint)
        gallery.check_model(embedder.fingerprint)
        threshold, metric = open_set_threshold(gallery)
        revision, stored = load_for_search(gallery, gallery_path)
    if len(stored.identities) == 0:
        raise GaitReidError(f"{gallery_path}: the gallery has no sequences (enrol someone first)")
    query = embedder.embed(load_sequence(path, embedder.pretreat))
    search = None
    wants_index = method == "index" or (method == "auto" and len(stored.identities) >= search_module.INDEX_MIN_SIZE)
    if wants_index and faiss_available():
        search = cached_index(gallery_path, stored, metric, revision, embedder.fingerprint)
    return Identifier(stored, metric, method, search=search).identify(query, top_k, threshold)
