"""The steps behind `gaitreid enrol` and `gaitreid identify`, usable from Python too.

    enrol_paths("people.db", "runs/demo", "alice", ["walk1/", "walk2.pkl"])
    result = identify_path("people.db", "unknown_walk.avi")
    print(result.identity or "unknown")

The gallery remembers which checkpoint it was built with, so identify needs no --model; a model
given explicitly must be the same one (same fingerprint).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from gaitreid.errors import GaitReidError
from gaitreid.gallery.database import Gallery, ModelBinding, NewSequence
from gaitreid.gallery.identify import OPEN_SET_SETTING, Identification, Identifier
from gaitreid.gallery.sources import load_sequence

DEFAULT_METRIC = "euclidean"


def load_embedder(checkpoint: str | Path):
    from gaitreid.inference import Embedder

    return Embedder.from_checkpoint(checkpoint)


def model_binding(embedder, embedding_shape: tuple[int, int], checkpoint: str | Path) -> ModelBinding:
    """What the gallery records about the model: fingerprint, where it is, what it is."""
    config = getattr(embedder, "model_config", None)
    description = {
        "checkpoint": str(Path(checkpoint).resolve()),
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


def identify_path(gallery_path: str | Path, path: str | Path, top_k: int = 5, checkpoint: str | Path | None = None,
                  method: str = "auto", embedder=None) -> Identification:
    with Gallery.open(gallery_path) as gallery:
        embedder = embedder or gallery_embedder(gallery, checkpoint)
        gallery.check_model(embedder.fingerprint)
        threshold, metric = open_set_threshold(gallery)
        stored = gallery.load_embeddings()
    if len(stored.identities) == 0:
        raise GaitReidError(f"{gallery_path}: the gallery has no sequences (enrol someone first)")
    query = embedder.embed(load_sequence(path, embedder.pretreat))
    return Identifier(stored, metric, method).identify(query, top_k, threshold)
