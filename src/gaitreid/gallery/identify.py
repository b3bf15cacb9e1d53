"""Who is this? Rank enrolled identities by distance, and say "unknown" above the threshold.

An identity's distance to a query is the minimum over its enrolled sequences (the closest
walk of that person). Open set: when even the nearest identity is farther than the gallery's
calibrated threshold, the answer is "unknown" (the ranked list is still reported).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gaitreid.gallery.database import GalleryEmbeddings
from gaitreid.gallery.search import build_search

OPEN_SET_SETTING = "open_set"  # the calibrated threshold and how it was chosen (see calibrate.py)


@dataclass(frozen=True)
class IdentityMatch:
    identity: str
    distance: float
    source: str  # the enrolled sequence that was closest


@dataclass(frozen=True)
class Identification:
    matches: list[IdentityMatch]  # nearest identity first
    threshold: float | None  # None: the gallery was never calibrated (closed set)

    @property
    def identity(self) -> str | None:
        """The answer: the nearest identity, or None for "unknown"."""
        if not self.matches:
            return None
        if self.threshold is not None and self.matches[0].distance > self.threshold:
            return None
        return self.matches[0].identity


class Identifier:
    """A loaded gallery ready to answer queries (the search structure is built once)."""

    def __init__(self, gallery: GalleryEmbeddings, metric: str = "euclidean", method: str = "auto", search=None):
        self.gallery = gallery
        self.metric = metric
        self.search = search or build_search(gallery.embeddings, metric, method)

    def identify(self, query: np.ndarray, top_k: int = 5, threshold: float | None = None) -> Identification:
        """query: [c, p]. Returns up to top_k identities, nearest first."""
        total = len(self.gallery.identities)
        rows_wanted = min(total, max(4 * top_k, 32))
        while True:
            found = self.search.nearest(np.asarray(query, dtype=np.float32), rows_wanted)
            matches = self._best_per_identity(found.rows, found.distances)
            if len(matches) >= top_k or rows_wanted >= total:
                return Identification(matches[:top_k], threshold)
            rows_wanted = min(total, rows_wanted * 4)

    def _best_per_identity(self, rows: np.ndarray, distances: np.ndarray) -> list[IdentityMatch]:
        best: dict[str, IdentityMatch] = {}
        for row, distance in zip(rows, distances):  # nearest first, so the first seen is the min
            name = self.gallery.identities[row]
            if name not in best:
                best[name] = IdentityMatch(name, float(distance), self.gallery.sources[row])
        return list(best.values())
