"""From a store and an embedding function to figures and a report: what `gaitreid evaluate` and
`gaitreid run` call after training.

    evaluation = evaluate_store(embedder.embed_store, store, "casia-b/dev", out_dir="runs/demo")
    print(evaluation.protocol.table())

`embed_fn(store, indices) -> [N, c, p]` embeds whole sequences (every frame, in order); the GEI
baseline (`gei_embeddings`) has the same signature and is scored on the same sequences for
comparison.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gaitreid.errors import GaitReidError
from gaitreid.evaluation.casia_b import GALLERY_CONDITIONS, PROBE_CONDITIONS, ProtocolResult, casia_b_protocol
from gaitreid.evaluation.distances import top_k, torch_threads
from gaitreid.evaluation.gei import gait_energy_image, gei_embeddings
from gaitreid.evaluation.reid import reid_metrics
from gaitreid.evaluation.report import Match, RankList, ReportInputs, write_report
from gaitreid.evaluation.splits import Split, load_split

log = logging.getLogger(__name__)

EmbedFn = Callable[[object, np.ndarray], np.ndarray]


@dataclass
class Evaluation:
    """Everything one evaluation produced."""

    protocol: ProtocolResult
    cross_view: dict[str, dict]  # probe type -> reid_metrics against the gallery of other views
    rank_lists: list[RankList]
    indices: np.ndarray  # store indices of the evaluated (test) sequences
    embeddings: np.ndarray  # [N, c, p] in the order of `indices`
    baseline: ProtocolResult | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    report: dict[str, Path] | None = None


def evaluate_store(
    embed_fn: EmbedFn,
    store,
    split: str | Split = "casia-b",
    *,
    metric: str = "euclidean",
    out_dir=None,
    title: str = "gaitreid evaluation",
    info: dict | None = None,
    gei_baseline: bool = True,
    num_rank_lists: int = 6,
    metrics_logs: list[Path] | None = None,
    unmatched: str = "miss",
) -> Evaluation:
    """Embed the split's test sequences in `store`, run the CASIA-B protocol and cross-view re-id
    metrics, and (with `out_dir`) write metrics.json, report.md and report.html there."""
    split = load_split(split) if isinstance(split, str) else split
    where = str(getattr(store, "path", "the sequence store"))
    subjects = split.require_test_subjects(list(store.subjects), where)
    indices = np.asarray(store.indices(subjects=subjects), dtype=np.int64)
    if len(indices) == 0:
        raise GaitReidError(f"{where}: no sequences of the test subjects of split {split.name!r}")
    keys = [store.keys[int(i)] for i in indices]
    seconds = {}

    start = time.perf_counter()
    embeddings = np.asarray(embed_fn(store, indices))
    seconds["embed"] = time.perf_counter() - start
    if embeddings.ndim == 2:
        embeddings = embeddings[:, :, None]  # [N, d, 1]
    if len(embeddings) != len(indices):
        raise GaitReidError(f"the embedding function returned {len(embeddings)} embeddings for {len(indices)} sequences")

    start = time.perf_counter()
    protocol = casia_b_protocol(embeddings, keys, metric=metric, unmatched=unmatched)
    cross_view = cross_view_metrics(embeddings, keys, metric, unmatched)
    seconds["protocol"] = time.perf_counter() - start

    baseline = None
    if gei_baseline:
        start = time.perf_counter()
        baseline = casia_b_protocol(gei_embeddings(store, indices), keys, metric=metric, unmatched=unmatched)
        seconds["gei_baseline"] = time.perf_counter() - start

    rank_lists = pick_rank_lists(store, indices, embeddings, metric, num_rank_lists) if num_rank_lists else []
    evaluation = Evaluation(protocol, cross_view, rank_lists, indices, embeddings, baseline, seconds)
    protocol.extras["split"] = split.name
    protocol.extras["num_sequences"] = int(len(indices))
    protocol.extras["cross_view"] = {
        t: {k: round(v, 4) for k, v in m.items() if k in ("rank1", "rank5", "rank10", "mAP")} for t, m in cross_view.items()
    }
    protocol.extras["seconds"] = {k: round(v, 3) for k, v in seconds.items()}
    if out_dir is not None:
        inputs = ReportInputs(
            title=title,
            info={"split": split.name, "test subjects": f"{subjects[0]}..{subjects[-1]} ({len(subjects)})",
                  "sequences": len(indices), "data": where, **(info or {})},
            cmc={t: m["cmc"] for t, m in cross_view.items()},
            rank_lists=rank_lists,
            baseline=baseline,
            metrics_logs=metrics_logs,
        )
        evaluation.report = write_report(out_dir, protocol, inputs)
    return evaluation


def cross_view_metrics(embeddings: np.ndarray, keys, metric: str = "euclidean", unmatched: str = "miss") -> dict[str, dict]:
    """Per probe type: rank-k / mAP / CMC of its probes against all NM#1-4 sequences of *other* views."""
    gallery = [i for i, k in enumerate(keys) if k.condition in GALLERY_CONDITIONS]
    out = {}
    with torch_threads(1):  # CASIA-B sized blocks: steadier on one thread when cores are shared
        for probe_type, conditions in PROBE_CONDITIONS.items():
            probes = [i for i, k in enumerate(keys) if k.condition in conditions]
            if not probes or not gallery:
                continue
            out[probe_type] = reid_metrics(
                embeddings[probes],
                [keys[i].subject for i in probes],
                embeddings[gallery],
                [keys[i].subject for i in gallery],
                query_groups=[keys[i].view for i in probes],
                gallery_groups=[keys[i].view for i in gallery],
                metric=metric,
                max_rank=20,
                unmatched=unmatched,
            )
    return out


def pick_rank_lists(store, indices: np.ndarray, embeddings: np.ndarray, metric: str, count: int, k: int = 5) -> list[RankList]:
    """Rank lists of a few probes: per probe type one found at rank 1 and one missed (when there are
    such), chosen at random with a fixed seed, against the NM#1-4 sequences of other views."""
    keys = [store.keys[int(i)] for i in indices]
    gallery = np.array([i for i, key in enumerate(keys) if key.condition in GALLERY_CONDITIONS], dtype=np.int64)
    if len(gallery) == 0:
        return []
    rng = np.random.default_rng(0)
    chosen: list[int] = []
    top_by_probe: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for conditions in PROBE_CONDITIONS.values():
        probes = np.array([i for i, key in enumerate(keys) if key.condition in conditions], dtype=np.int64)
        if len(probes) == 0:
            continue
        sample = rng.choice(probes, size=min(len(probes), 40), replace=False)
        idx, dist = top_k(
            embeddings[sample], embeddings[gallery], k, metric,
            query_groups=[keys[i].view for i in sample], gallery_groups=[keys[i].view for i in gallery],
        )
        right = [j for j, p in enumerate(sample) if idx[j, 0] >= 0 and keys[gallery[idx[j, 0]]].subject == keys[p].subject]
        wrong = [j for j in range(len(sample)) if j not in set(right)]
        for group in (right, wrong):
            if group:
                j = group[0]
                chosen.append(int(sample[j]))
                top_by_probe[int(sample[j])] = (idx[j], dist[j])
    rank_lists = []
    for p in chosen[:count]:
        idx, dist = top_by_probe[p]
        matches = [
            Match(
                key=keys[gallery[g]],
                distance=float(d),
                correct=keys[gallery[g]].subject == keys[p].subject,
                image=gait_energy_image(store.frames(int(indices[gallery[g]]))),
            )
            for g, d in zip(idx, dist)
            if g >= 0
        ]
        rank_lists.append(RankList(probe=keys[p], matches=matches, image=gait_energy_image(store.frames(int(indices[p])))))
    return rank_lists
