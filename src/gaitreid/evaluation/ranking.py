"""Where the true matches fall when a gallery is ranked by distance, without sorting it.

For each query row only the ranks of its positives (gallery items of the same identity) matter:
the rank of the first one gives CMC / rank-k, all of them give average precision. Each positive's
rank is found by counting the negatives that are not farther than it, so a row costs O(n log r)
(r = positives in the row) instead of a full O(n log n) sort.

Ties are broken against the query: a negative at exactly the same distance as a positive ranks
before it. Results therefore never depend on gallery order, and a degenerate embedding (everything
equal) scores 0, not 100.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class PositiveRanks:
    """Per query row: rank of the first positive (1-based; 0 when there is none), AP, positive count."""

    first_rank: torch.Tensor  # [b] int64
    average_precision: torch.Tensor  # [b] float64, 0 where there is no positive
    num_positives: torch.Tensor  # [b] int64


def rank_positives(
    distances: torch.Tensor, positive: torch.Tensor, ignore: torch.Tensor | None = None
) -> PositiveRanks:
    """Ranks of the positives in each row of `distances [b, n]`.

    `positive [b, n]` marks same-identity gallery items; `ignore [b, n]` (optional) marks items
    that take no part in the ranking at all (e.g. the query's own sequence).
    """
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
