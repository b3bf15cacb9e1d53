"""Distances between sequence embeddings, computed a chunk of query rows at a time.

An embedding is `[c, p]`: `p` parts (horizontal strips), each a `c`-vector. The distance between two
sequences is the per-part distance averaged over the parts:

- `euclidean`: mean over parts of ||q_j - g_j||_2 (the usual gait-recognition choice);
- `cosine`: mean over parts of 1 - cos(q_j, g_j).

Nothing larger than one `[chunk, n_gallery]` block (plus a same-sized work buffer) is ever held,
so a 100k x 100k comparison runs in bounded memory; the chunk height follows a byte budget.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from gaitreid.errors import GaitReidError

METRICS: tuple[str, ...] = ("euclidean", "cosine")

# Budget for one chunk of work: the [b, n] distance block and the buffers derived from it.
DEFAULT_CHUNK_BYTES = 128 * 2**20
# Bytes per [b, n] element a consumer of a chunk may hold: distances, a work buffer, int64 ranks, masks.
BYTES_PER_ELEMENT = 24


@contextmanager
def torch_threads(count: int | None):
    """Run a block with at most `count` torch threads (restored afterwards).

    Many small tensor operations (one per protocol cell) run far slower with several threads when
    the cores are busy with other work, because idle threads spin; one thread is steady.
    """
    before = torch.get_num_threads()
    if count is None or count >= before:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise GaitReidError(f"unknown distance metric {metric!r}; choose one of {', '.join(METRICS)}")
    return metric


def as_part_tensor(embeddings: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Embeddings as a float tensor `[n, c, p]`; `[n, d]` becomes one part `[n, d, 1]`.

    float64 input stays float64 (exact distances for small-integer test embeddings); anything
    else becomes float32.
    """
    tensor = torch.as_tensor(embeddings)
    if tensor.dtype != torch.float64:
        tensor = tensor.to(torch.float32)
    if tensor.ndim == 2:
        tensor = tensor.unsqueeze(-1)  # [n, d, 1]
    if tensor.ndim != 3:
        raise GaitReidError(f"embeddings must be [n, c, p] or [n, d], got shape {tuple(tensor.shape)}")
    return tensor


class PreparedSet:
    """One side of a comparison, laid out part-major for the per-part matrix products."""

    def __init__(self, embeddings: np.ndarray | torch.Tensor, metric: str, dtype: torch.dtype | None = None):
        check_metric(metric)
        tensor = as_part_tensor(embeddings)
        if dtype is not None:
            tensor = tensor.to(dtype)
        parts = tensor.permute(2, 0, 1).contiguous()  # [p, n, c]
        if metric == "cosine":
            parts = parts / parts.norm(dim=-1, keepdim=True).clamp_min(1e-12)
            self.squared_norms = None
        else:
            self.squared_norms = (parts * parts).sum(-1)  # [p, n]
        self.parts = parts
        self.metric = metric

    def __len__(self) -> int:
        return self.parts.shape[1]

    @property
    def num_parts(self) -> int:
        return self.parts.shape[0]

    @property
    def dim(self) -> int:
        return self.parts.shape[2]

    def rows(self, start: int, stop: int) -> "PreparedSet":
        view = PreparedSet.__new__(PreparedSet)
        view.parts = self.parts[:, start:stop]
        view.squared_norms = None if self.squared_norms is None else self.squared_norms[:, start:stop]
        view.metric = self.metric
        return view


def block_distances(query: PreparedSet, gallery: PreparedSet) -> torch.Tensor:
    """Distances `[len(query), len(gallery)]` between two prepared sets (one block, no chunking)."""
    if query.num_parts != gallery.num_parts or query.dim != gallery.dim:
        raise GaitReidError(
            f"query embeddings [{query.dim}, {query.num_parts}] and gallery embeddings "
            f"[{gallery.dim}, {gallery.num_parts}] differ in shape [c, p]"
        )
    b, n = len(query), len(gallery)
    total = torch.zeros(b, n, dtype=query.parts.dtype)
    work = torch.empty(b, n, dtype=query.parts.dtype)
    for j in range(query.num_parts):
        q, g = query.parts[j], gallery.parts[j]  # [b, c], [n, c]
        if query.metric == "euclidean":
            # |q - g|^2 = |q|^2 + |g|^2 - 2 q.g, with the gallery term broadcast over rows
            torch.addmm(gallery.squared_norms[j].unsqueeze(0), q, g.T, beta=1.0, alpha=-2.0, out=work)
            work.add_(query.squared_norms[j].unsqueeze(1)).clamp_(min=0.0).sqrt_()
            total.add_(work)
        else:
            torch.mm(q, g.T, out=work)
            total.sub_(work)
    if query.metric == "cosine":
        total.add_(query.num_parts)  # sum over parts of (1 - cos)
    return total.div_(query.num_parts)


def chunk_rows(num_gallery: int, max_chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> int:
    """How many query rows fit one chunk so that `[rows, num_gallery]` work stays in budget."""
    return max(1, int(max_chunk_bytes // (BYTES_PER_ELEMENT * max(1, num_gallery))))


def distance_chunks(
    query: np.ndarray | torch.Tensor | PreparedSet,
    gallery: np.ndarray | torch.Tensor | PreparedSet,
    metric: str = "euclidean",
    max_chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> Iterator[tuple[int, int, torch.Tensor]]:
    """Yield `(start, stop, distances[stop - start, n_gallery])` over consecutive query chunks."""
    if not isinstance(gallery, PreparedSet):
        gallery = PreparedSet(gallery, metric)
    if not isinstance(query, PreparedSet):
        query = PreparedSet(query, metric, dtype=gallery.parts.dtype)
    rows = chunk_rows(len(gallery), max_chunk_bytes)
    for start in range(0, len(query), rows):
        stop = min(start + rows, len(query))
        yield start, stop, block_distances(query.rows(start, stop), gallery)


def pairwise_distances(
    query: np.ndarray | torch.Tensor,
    gallery: np.ndarray | torch.Tensor,
    metric: str = "euclidean",
    max_chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> np.ndarray:
    """The full `[n_query, n_gallery]` matrix; only for sizes where that matrix fits in memory."""
    gallery_set = PreparedSet(gallery, metric)
    query_set = PreparedSet(query, metric, dtype=gallery_set.parts.dtype)
    out = np.empty((len(query_set), len(gallery_set)), dtype=np.float64 if gallery_set.parts.dtype == torch.float64 else np.float32)
    for start, stop, block in distance_chunks(query_set, gallery_set, metric, max_chunk_bytes):
        out[start:stop] = block.numpy()
    return out


def exclusion_mask(
    query_groups: torch.Tensor | None, gallery_groups: torch.Tensor | None, start: int, stop: int
) -> torch.Tensor | None:
    """`[stop - start, n]` True where a gallery item shares the query's group (it must be ignored)."""
    if query_groups is None or gallery_groups is None:
        return None
    return query_groups[start:stop].unsqueeze(1) == gallery_groups.unsqueeze(0)


def top_k(
    query: np.ndarray | torch.Tensor,
    gallery: np.ndarray | torch.Tensor,
    k: int,
    metric: str = "euclidean",
    query_groups: np.ndarray | None = None,
    gallery_groups: np.ndarray | None = None,
    max_chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> tuple[np.ndarray, np.ndarray]:
    """The `k` nearest gallery items per query: `(indices [m, k], distances [m, k])`, nearest first.

    Gallery items in the query's group are skipped (group = sequence index to keep a query from
    finding itself). Where fewer than `k` items remain, indices are -1 and distances inf.
    """
    gallery_set = PreparedSet(gallery, metric)
    query_set = PreparedSet(query, metric, dtype=gallery_set.parts.dtype)
    k_eff = min(k, len(gallery_set))
    qg, gg = group_tensors(query_groups, gallery_groups)
    indices = np.full((len(query_set), k), -1, dtype=np.int64)
    distances = np.full((len(query_set), k), np.inf)
    for start, stop, block in distance_chunks(query_set, gallery_set, metric, max_chunk_bytes):
        excluded = exclusion_mask(qg, gg, start, stop)
        if excluded is not None:
            block.masked_fill_(excluded, torch.inf)
        values, idx = torch.topk(block, k_eff, dim=1, largest=False, sorted=True)
        idx[torch.isinf(values)] = -1
        indices[start:stop, :k_eff] = idx.numpy()
        distances[start:stop, :k_eff] = values.numpy()
    return indices, distances


def group_tensors(
    query_groups: np.ndarray | None, gallery_groups: np.ndarray | None
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Both group labellings as one int64 code space (labels may be strings or numbers)."""
    if query_groups is None and gallery_groups is None:
        return None, None
    if query_groups is None or gallery_groups is None:
        raise GaitReidError("give groups for both queries and gallery, or for neither")
    codes = integer_codes(list(query_groups) + list(gallery_groups))
    return codes[: len(query_groups)], codes[len(query_groups) :]


def integer_codes(labels) -> torch.Tensor:
    """Labels (strings, numbers, keys) as int64 codes: equal labels, equal codes."""
    mapping: dict = {}
    return torch.tensor([mapping.setdefault(label, len(mapping)) for label in labels], dtype=torch.int64)
