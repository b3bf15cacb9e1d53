"""General re-identification metrics for any query / gallery split: rank-k, CMC, mAP.

A query never matches itself: give `query_groups` / `gallery_groups` (e.g. sequence keys, or the
row index when query and gallery are the same set) and gallery items sharing the query's group are
left out of its ranking. Queries with no true match left in the gallery count as misses
(`unmatched="miss"`, the convention of the CASIA-B reference code) or are dropped
(`unmatched="skip"`, the usual person re-id convention); their number is reported either way.
"""

from __future__ import annotations

import numpy as np
import torch

from gaitreid.errors import GaitReidError
from gaitreid.evaluation.distances import (
    DEFAULT_CHUNK_BYTES,
    PreparedSet,
    distance_chunks,
    exclusion_mask,
    group_tensors,
    integer_codes,
    torch_threads,
)
from gaitreid.evaluation.ranking import rank_positives

UNMATCHED_POLICIES = ("miss", "skip")


def reid_metrics(
    query_emb: np.ndarray | torch.Tensor,
    query_ids,
    gallery_emb: np.ndarray | torch.Tensor,
    gallery_ids,
    *,
    query_groups=None,
    gallery_groups=None,
    metric: str = "euclidean",
    ranks: tuple[int, ...] = (1, 5, 10),
    max_rank: int = 50,
    unmatched: str = "skip",
    max_chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    threads: int | None = None,
) -> dict:
    """Rank-k accuracies and mAP in percent, and the CMC curve (percent at ranks 1..max_rank).

    Returns a JSON-ready dict: `rank1`, `rank5`, `rank10` (for the default `ranks`), `mAP`, `cmc`,
    `num_queries` (queries scored), `num_unmatched` (queries without a true match in the gallery).
    `threads` caps torch's threads for the call (1 is steadiest when the cores are shared).
    """
    if unmatched not in UNMATCHED_POLICIES:
        raise GaitReidError(f"unmatched must be one of {UNMATCHED_POLICIES}, got {unmatched!r}")
    if len(query_ids) != len(query_emb) or len(gallery_ids) != len(gallery_emb):
        raise GaitReidError(
            f"{len(query_emb)} query embeddings with {len(query_ids)} ids, "
            f"{len(gallery_emb)} gallery embeddings with {len(gallery_ids)} ids: counts must agree"
        )
    if len(gallery_emb) == 0:
        raise GaitReidError("the gallery is empty: nothing to rank")
    ids = integer_codes(list(query_ids) + list(gallery_ids))
    qid, gid = ids[: len(query_ids)], ids[len(query_ids) :]
    qg, gg = group_tensors(query_groups, gallery_groups)

    with torch_threads(threads):
        gallery_set = PreparedSet(gallery_emb, metric)
        query_set = PreparedSet(query_emb, metric, dtype=gallery_set.parts.dtype)
        first_rank = torch.zeros(len(query_set), dtype=torch.int64)
        average_precision = torch.zeros(len(query_set), dtype=torch.float64)
        for start, stop, block in distance_chunks(query_set, gallery_set, metric, max_chunk_bytes):
            positive = qid[start:stop].unsqueeze(1) == gid.unsqueeze(0)  # [b, n]
            stats = rank_positives(block, positive, exclusion_mask(qg, gg, start, stop))
            first_rank[start:stop] = stats.first_rank
            average_precision[start:stop] = stats.average_precision
    return summarise_ranks(first_rank.numpy(), average_precision.numpy(), ranks, max_rank, unmatched)


def summarise_ranks(
    first_rank: np.ndarray, average_precision: np.ndarray, ranks=(1, 5, 10), max_rank: int = 50, unmatched: str = "skip"
) -> dict:
    """Turn per-query first-match ranks (0 = no match) and APs into percent figures."""
    matched = first_rank > 0
    if unmatched == "skip":
        first_rank, average_precision = first_rank[matched], average_precision[matched]
    scored = len(first_rank)
    hit = matched if unmatched == "miss" else np.ones(scored, dtype=bool)
    cmc = [
        float(100.0 * np.mean(hit & (first_rank <= k))) if scored else float("nan") for k in range(1, max_rank + 1)
    ]
    result = {
        f"rank{k}": float(100.0 * np.mean(hit & (first_rank <= k))) if scored else float("nan") for k in ranks
    }
    result["mAP"] = float(100.0 * np.mean(average_precision)) if scored else float("nan")
    result["cmc"] = cmc
    result["num_queries"] = int(scored)
    result["num_unmatched"] = int((~matched).sum())
    return result


def leave_one_out_metrics(embeddings, ids, **kwargs) -> dict:
    """Every sequence queries all the others (never itself)."""
    rows = np.arange(len(ids))
    return reid_metrics(embeddings, ids, embeddings, ids, query_groups=rows, gallery_groups=rows, **kwargs)
