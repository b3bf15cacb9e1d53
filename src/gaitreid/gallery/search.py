"""Nearest gallery sequences to a query embedding: exact for small galleries, an index for large.

Distances are the evaluation's part-based ones: an embedding is [c, p] (c channels for each of
p horizontal body parts), and
- "euclidean": the euclidean distance of each part, averaged over the parts;
- "cosine": one minus the cosine similarity of each part, averaged over the parts.

Exact search keeps the matrix part-major (the evaluation's PreparedSet layout) and does one
matrix-vector product per part per query; tests check it against the evaluation's distances, so
identify and evaluate rank alike. The index (faiss IVF-PQ) proposes candidates from flattened
vectors and the candidates are then re-ranked with the exact distance, so the distances it
reports are always the true ones; only which sequences get considered is approximate.
- cosine: per-part unit vectors scaled by 1/sqrt(p), so the inner product of two flattened
  vectors *is* the mean per-part cosine (the index ranks by the true metric);
- euclidean: flattened L2 (sqrt of the summed squared part distances) ranks almost like the
  mean of part distances; re-ranking fixes the order among the candidates.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gaitreid.errors import GaitReidError
from gaitreid.evaluation.distances import PreparedSet, check_metric, pairwise_distances

log = logging.getLogger(__name__)

EXACT_CHUNK_ROWS = 32768  # rows handed to the index at a time
# From this many embeddings on, `auto` uses the index. Measured with benchmarks/bench_gallery.py
# on 2 busy cores, [128, 31] embeddings: exact 16 ms at 1e4 and 150 ms at 1e5 per query; index
# 6 ms and 21 ms, but building it took 13 s and 65 s (paid once, the index is kept on disk).
INDEX_MIN_SIZE = 50_000
# Product quantisation needs enough points to train its 256 centroids per sub-vector; below
# this the index stores plain vectors (IVF-Flat).
PQ_MIN_SIZE = 10_000
# Exact search keeps a part-major copy of the matrix up to this size; beyond, it streams chunks.
EXACT_COPY_MAX_BYTES = 2 * 2**30


def _unit_parts(embeddings: np.ndarray) -> np.ndarray:
    """Each part's channel vector scaled to unit length: [n, c, p]."""
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)  # [n, 1, p]
    return embeddings / np.maximum(norms, 1e-12)


def part_distances(queries: np.ndarray, gallery: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """Distances [m, N] between queries [m, c, p] and gallery [N, c, p]: the evaluation's metric."""
    check_metric(metric)
    return pairwise_distances(np.asarray(queries, dtype=np.float32), np.asarray(gallery, dtype=np.float32), metric)


@dataclass(frozen=True)
class Neighbours:
    """The nearest gallery rows of one query, nearest first."""

    rows: np.ndarray  # [k] int64 rows of the gallery matrix
    distances: np.ndarray  # [k] float32 exact distances


def _smallest(distances: np.ndarray, k: int) -> np.ndarray:
    k = min(k, len(distances))
    if k == 0:
        return np.empty(0, dtype=np.int64)
    rows = np.argpartition(distances, k - 1)[:k] if k < len(distances) else np.arange(len(distances))
    return rows[np.argsort(distances[rows], kind="stable")].astype(np.int64)


class ExactSearch:
    """Brute force over every gallery embedding with the evaluation's distance code: exact.

    Memory: one part-major copy of the matrix ([p, N, c], see evaluation.distances.PreparedSet).
    """

    kind = "exact"

    def __init__(self, embeddings: np.ndarray, metric: str = "euclidean"):
        self.metric = check_metric(metric)
        with warnings.catch_warnings():  # a read-only memmap is fine: PreparedSet copies it part-major
            warnings.filterwarnings("ignore", message=".*not writable.*")
            self.prepared = PreparedSet(np.asarray(embeddings, dtype=np.float32), metric)

    def nearest(self, query: np.ndarray, k: int) -> Neighbours:
        distances = self.distances(query)
        rows = _smallest(distances, k)
        return Neighbours(rows, distances[rows])

    @torch.inference_mode()
    def distances(self, query: np.ndarray) -> np.ndarray:
        """[c, p] -> [N]: one matrix-vector product per part (a single query needs no matrix product).

        Runs on one torch thread: matrix-vector products are memory-bound, and on busy cores
        torch's thread pool made them up to 100x slower (measured with two threads on 2 loaded cores).
        """
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self._distances(query)
        finally:
            torch.set_num_threads(threads)

    def _distances(self, query: np.ndarray) -> np.ndarray:
        q = PreparedSet(np.asarray(query, dtype=np.float32)[None], self.metric).parts[:, 0]  # [p, c]
        gallery = self.prepared
        total = torch.zeros(len(gallery), dtype=gallery.parts.dtype)
        for j in range(gallery.num_parts):
            dots = torch.mv(gallery.parts[j], q[j])  # [N]
            if self.metric == "euclidean":
                squared = gallery.squared_norms[j] + q[j].dot(q[j]) - 2.0 * dots
                total += squared.clamp_(min=0.0).sqrt_()
            else:
                total += 1.0 - dots
        return (total / gallery.num_parts).numpy()


class ChunkedExactSearch:
    """Exact search without a copy of the matrix: one block product per chunk of rows.

    For galleries too large to hold twice in memory, or kept in a memmap on disk; also the
    large-gallery fallback when faiss is missing. Slower per query than ExactSearch (it
    multiplies each row by a [c*p, p] block matrix that is mostly zeros), but it
    streams the matrix once per query and needs only [N, p] extra memory (the part norms).
    """

    kind = "exact-chunked"

    def __init__(self, embeddings: np.ndarray, metric: str = "euclidean"):
        self.embeddings = embeddings  # [N, c, p]; memmap ok
        self.metric = check_metric(metric)
        n, c, p = embeddings.shape
        self.norms = np.empty((n, p), dtype=np.float32)  # squared norms per part
        for start in range(0, n, EXACT_CHUNK_ROWS):
            chunk = np.asarray(embeddings[start : start + EXACT_CHUNK_ROWS], dtype=np.float32)
            self.norms[start : start + len(chunk)] = (chunk**2).sum(axis=1)

    def distances(self, query: np.ndarray) -> np.ndarray:
        query = np.asarray(query, dtype=np.float32)
        c, p = query.shape
        q_norms = (query**2).sum(axis=0)  # [p]
        block = np.zeros((c, p, p), dtype=np.float32)
        block[:, np.arange(p), np.arange(p)] = query  # block[:, j, j] = query[:, j]
        block = block.reshape(c * p, p)
        out = np.empty(len(self.embeddings), dtype=np.float32)
        for start in range(0, len(out), EXACT_CHUNK_ROWS):
            chunk = np.asarray(self.embeddings[start : start + EXACT_CHUNK_ROWS], dtype=np.float32)
            dots = chunk.reshape(len(chunk), c * p) @ block  # [b, p]
            norms = self.norms[start : start + len(chunk)]
            if self.metric == "cosine":
                cos = dots / np.maximum(np.sqrt(norms * q_norms), 1e-12)
                out[start : start + len(chunk)] = 1.0 - cos.mean(axis=1)
            else:
                squared = norms + q_norms - 2.0 * dots
                out[start : start + len(chunk)] = np.sqrt(np.maximum(squared, 0.0)).mean(axis=1)
        return out

    def nearest(self, query: np.ndarray, k: int) -> Neighbours:
        distances = self.distances(query)
        rows = _smallest(distances, k)
        return Neighbours(rows, distances[rows])


def faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def _pq_subvectors(dim: int) -> int:
    """Number of product-quantiser sub-vectors: each of 8..32 dims (must divide `dim`); 0: none fits."""
    for sub_dim in (32, 16, 24, 8, 12, 20, 28):
        if dim % sub_dim == 0:
            return dim // sub_dim
    return 0


class IndexSearch:
    """faiss IVF-PQ candidates, re-ranked with the exact distance on the gallery matrix.

    The index holds only short codes (one byte per 8..32 dims) so its memory is small next to
    the matrix; the matrix itself is read only at the candidate rows, so it may be a memmap.
    """

    kind = "index"

    def __init__(self, embeddings: np.ndarray, metric: str = "euclidean", nprobe: int = 32, seed: int = 0,
                 index=None):
        import faiss

        self.embeddings = embeddings  # [N, c, p]; any array supporting row indexing (memmap ok)
        self.metric = check_metric(metric)
        if index is not None:  # loaded from disk (see `load`)
            self.index = index
            return
        n, c, p = embeddings.shape
        dim = c * p
        # about sqrt(n) lists, each with >= 39 training points (faiss' minimum for good centroids)
        nlist = int(max(1, min(4096, round(math.sqrt(n)), n // 39)))
        quantizer = faiss.IndexFlatL2(dim)
        subvectors = _pq_subvectors(dim)
        if subvectors and n >= PQ_MIN_SIZE:
            self.index = faiss.IndexIVFPQ(quantizer, dim, nlist, subvectors, 8)
        else:
            self.index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_L2)
        self.index.cp.seed = seed
        # k-means on a sample: 40 points per list (and >= 10k for the 256 PQ centroids) suffice.
        rng = np.random.default_rng(seed)
        sample = np.sort(rng.choice(n, size=min(n, max(40 * nlist, 10_000)), replace=False))
        self.index.train(self._flat(np.asarray(embeddings[sample])))
        for start in range(0, n, EXACT_CHUNK_ROWS):
            self.index.add(self._flat(np.asarray(embeddings[start : start + EXACT_CHUNK_ROWS])))
        self.index.nprobe = min(nprobe, nlist)

    def save(self, path: str | Path) -> None:
        """Write the index atomically (a reader never sees half a file)."""
        import faiss

        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        faiss.write_index(self.index, str(tmp))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path, embeddings: np.ndarray, metric: str) -> "IndexSearch":
        import faiss

        index = faiss.read_index(str(path))
        if index.ntotal != len(embeddings) or index.d != int(np.prod(embeddings.shape[1:])):
            raise GaitReidError(f"{path}: index does not match the gallery ({index.ntotal} vectors, {len(embeddings)} rows)")
        return cls(embeddings, metric, index=index)

    def _flat(self, embeddings: np.ndarray) -> np.ndarray:
        """[n, c, p] -> [n, c*p] in the space the index ranks in (see the module docstring).

        cosine: unit parts scaled by 1/sqrt(p) have unit length, so L2 ranks like the inner
        product, which is the mean per-part cosine.
        """
        embeddings = np.asarray(embeddings, dtype=np.float32)
        if self.metric == "cosine":
            embeddings = _unit_parts(embeddings) / math.sqrt(embeddings.shape[2])
        return np.ascontiguousarray(embeddings.reshape(len(embeddings), -1))

    def nearest(self, query: np.ndarray, k: int, candidates: int | None = None) -> Neighbours:
        candidates = candidates or max(256, 16 * k)
        _, found = self.index.search(self._flat(query[None]), min(candidates, len(self.embeddings)))
        rows = np.sort(found[0][found[0] >= 0])
        distances = part_distances(query[None], np.asarray(self.embeddings[rows]), self.metric)[0]
        order = _smallest(distances, k)
        return Neighbours(rows[order].astype(np.int64), distances[order])


def build_search(embeddings: np.ndarray, metric: str = "euclidean", method: str = "auto"):
    """Exact search for small galleries, the index for large ones (`auto`), or as asked.

    Exact search copies the matrix part-major (fastest per query) unless that copy would exceed
    EXACT_COPY_MAX_BYTES; then it streams the matrix in chunks (ChunkedExactSearch).
    """
    if method not in ("auto", "exact", "index"):
        raise GaitReidError(f"unknown search method {method!r}; choose auto, exact or index")
    if method == "auto":
        method = "index" if len(embeddings) >= INDEX_MIN_SIZE else "exact"
    if method == "index":
        if faiss_available():
            return IndexSearch(embeddings, metric)
        log.warning("faiss is not installed: using exact (chunked) search")
    if embeddings.size * 4 > EXACT_COPY_MAX_BYTES:
        return ChunkedExactSearch(embeddings, metric)
    return ExactSearch(embeddings, metric)
