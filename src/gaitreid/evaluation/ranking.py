"""Where the true matches fall when a gallery is ranked by distance, without sorting it.

For each query row only the ranks of its positives (gallery items of the same identity) matter:
the rank of the first one gives CMC / rank-k, all of them give average precision. Each positive's
rank is found by counting the negatives that are not farther than it, so a row costs O(n log r)
(r = positives in the row) instead of a full O(n log n) sort. Two equivalent implementations:
one vectorised over the rows of a block (fast for the many small blocks of the CASIA-B protocol),
one row by row that only looks at negatives closer than the row's farthest positive (fast for
wide rows, e.g. a 100k gallery, where most negatives are farther than every positive).

Ties are broken against the query: a negative at exactly the same distance as a positive ranks
before it. Results therefore never depend on gallery order, and a degenerate embedding (everything
equal) scores 0, not 100.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

# Rows at least this wide go through the row-by-row path.
ROW_PATH_MIN_WIDTH = 4096


@dataclass
class PositiveRanks:
    """Per query row: rank of the first positive (1-based; 0 when there is none), AP, positive count."""

    first_rank: torch.Tensor  # [b] int64
    average_precision: torch.Tensor  # [b] float64, 0 where there is no positive
    num_positives: torch.Tensor  # [b] int64


def rank_positives(
    distances: torch.Tensor, positive: torch.Tensor, ignore: torch.Tensor | None = None, method: str = "auto"
) -> PositiveRanks:
    """Ranks of the positives in each row of `distances [b, n]`.

    `positive [b, n]` marks same-identity gallery items; `ignore [b, n]` (optional) marks items
    that take no part in the ranking at all (e.g. the query's own sequence). `method` is
    "vectorised", "rows" or "auto" (by row width); all give identical results.
    """
    if method == "auto":
        method = "rows" if distances.shape[1] >= ROW_PATH_MIN_WIDTH else "vectorised"
    if method == "rows":
        return _rank_rows(distances, positive, ignore)
    return _rank_vectorised(distances, positive, ignore)


def _rank_rows(distances: torch.Tensor, positive: torch.Tensor, ignore: torch.Tensor | None) -> PositiveRanks:
    """Row by row in numpy: sort the row's few positives, count the closer negatives into bins."""
    dist, pos = distances.numpy(), positive.numpy()
    skip = None if ignore is None else ignore.numpy()
    b = dist.shape[0]
    first_rank = np.zeros(b, dtype=np.int64)
    average_precision = np.zeros(b, dtype=np.float64)
    num_positives = np.zeros(b, dtype=np.int64)
    for i in range(b):
        row, is_positive = dist[i], pos[i]
        if skip is not None:
            is_positive = is_positive & ~skip[i]
        positive_distances = np.sort(row[is_positive])
        k = len(positive_distances)
        num_positives[i] = k
        if k == 0:
            continue
        # only negatives not farther than the farthest positive can rank before a positive
        candidate = (row <= positive_distances[-1]) & ~pos[i]
        if skip is not None:
            candidate &= ~skip[i]
        closer_positives = np.searchsorted(positive_distances, row[candidate], side="left")
        negatives_before = np.cumsum(np.bincount(closer_positives, minlength=k)[:k])
        order = np.arange(1, k + 1)
        position = order + negatives_before
        first_rank[i] = position[0]
        average_precision[i] = np.mean(order / position)
    return PositiveRanks(torch.from_numpy(first_rank), torch.from_numpy(average_precision), torch.from_numpy(num_positives))


def _rank_vectorised(distances: torch.Tensor, positive: torch.Tensor, ignore: torch.Tensor | None) -> PositiveRanks:
    """All rows at once in torch: batched searchsorted against each row's sorted positives."""
    b, n = distances.shape
    if ignore is not None:
        positive = positive & ~ignore
        negative = ~positive & ~ignore
    else:
        negative = ~positive
    num_positives = positive.sum(1)  # [b]
    r = int(num_positives.max()) if b and n else 0
    if r == 0:
        zeros = torch.zeros(b, dtype=torch.int64)
        return PositiveRanks(zeros, torch.zeros(b, dtype=torch.float64), num_positives)

    # Positive distances of each row, ascending, padded with +inf to r columns.
    positive_distances = torch.where(positive, distances, torch.inf)
    sorted_positive = torch.topk(positive_distances, r, dim=1, largest=False, sorted=True).values  # [b, r]

    # For each item: how many positives are strictly closer. A negative with count s ranks before
    # positives s, s+1, ... (ties go to the negative).
    closer_positives = torch.searchsorted(sorted_positive, distances.contiguous(), side="left")  # [b, n]
    bins = torch.where(negative, closer_positives, r)  # non-negatives go to an overflow bin
    counts = torch.zeros(b, r + 1, dtype=torch.int64).scatter_add_(1, bins, torch.ones_like(bins))
    negatives_before = counts[:, :r].cumsum(1)  # [b, r]

    order = torch.arange(1, r + 1, dtype=torch.int64)  # i-th closest positive, 1-based
    position = order.unsqueeze(0) + negatives_before  # [b, r] 1-based rank in the full ranking
    real = order.unsqueeze(0) <= num_positives.unsqueeze(1)  # [b, r] not padding
    precision = torch.where(real, order.double() / position.double(), 0.0)
    average_precision = precision.sum(1) / num_positives.clamp_min(1).double()
    first_rank = torch.where(num_positives > 0, position[:, 0], 0)
    return PositiveRanks(first_rank, average_precision, num_positives)
