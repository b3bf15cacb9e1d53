"""Evaluation speed: the CASIA-B protocol at the real test-set size, a large chunked re-id case,
and the rank counting against a full sort.

    .venv/bin/python benchmarks/bench_eval.py                 # defaults below, a few minutes on 2 cores
    .venv/bin/python benchmarks/bench_eval.py --quick         # smaller sizes, for a smoke run
    .venv/bin/python benchmarks/bench_eval.py --json out.json

Cases (random embeddings with subject structure, so the figures are not all 0 or 100):
1. `casia-b protocol`: 50 subjects x 110 sequences (the standard test set), c=256, p=16:
   `casia_b_protocol` (3 x 11 x 11 cells, rank-1 and mAP) and the cross-view CMC.
2. `large re-id`: Q queries against G gallery items through the chunked path (bounded memory);
   prints the peak resident memory growth.
3. `ranking`: rank-1/mAP by counting negatives before each positive vs a full argsort per row.
Times are medians over --repeats runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import print_machine_info  # noqa: E402

from gaitreid.data.layout import CASIA_B_CONDITIONS, CASIA_B_VIEWS, SequenceKey  # noqa: E402
from gaitreid.evaluation.casia_b import casia_b_protocol  # noqa: E402
from gaitreid.evaluation.pipeline import cross_view_metrics  # noqa: E402
from gaitreid.evaluation.ranking import rank_positives  # noqa: E402
from gaitreid.evaluation.reid import reid_metrics  # noqa: E402


NOISE, VIEW_WEIGHT, COND_WEIGHT = 5.0, 2.0, 1.0
LARGE_NOISE = 2.5


def median_time(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def structured_embeddings(ids: np.ndarray, centres: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Each sample is its identity's centre plus its own noise: float32 [n, *centre shape]."""
    return centres[ids] + noise * rng.normal(size=(len(ids), *centres.shape[1:])).astype(np.float32)


def resident_mib(field: str) -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def reset_peak_memory() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM (peak RSS) to the current RSS
        return True
    except OSError:
        return False


def bench_protocol(subjects: int, c: int, p: int, repeats: int) -> dict:
    keys = [SequenceKey(f"{s:03d}", cond, view) for s in range(75, 75 + subjects)
            for cond in CASIA_B_CONDITIONS for view in CASIA_B_VIEWS]
    rng = np.random.default_rng(0)
    # subject + view + walking-condition components, so the cross-view figures land mid-range
    subject = structured_embeddings(np.array([int(k.subject) - 75 for k in keys]),
                                    rng.normal(size=(subjects, c, p)).astype(np.float32), NOISE, rng)
    view = rng.normal(size=(len(CASIA_B_VIEWS), c, p)).astype(np.float32)[[CASIA_B_VIEWS.index(k.view) for k in keys]]
    cond_types = ["nm", "bg", "cl"]
    cond = rng.normal(size=(3, c, p)).astype(np.float32)[[cond_types.index(k.condition_type) for k in keys]]
    emb = subject + VIEW_WEIGHT * view + COND_WEIGHT * cond
    out = {"sequences": len(keys), "c": c, "p": p}
    for metric in ("euclidean", "cosine"):
        seconds, result = median_time(lambda: casia_b_protocol(emb, keys, metric=metric), repeats)
        out[f"protocol_{metric}_s"] = seconds
        out[f"rank1_{metric}"] = result.condition_rank1
        print(f"casia-b protocol ({metric}): {len(keys)} sequences [{c}, {p}]: median {seconds:.2f} s; "
              f"rank-1 " + ", ".join(f"{t.upper()} {v:.1f}" for t, v in result.condition_rank1.items()))
    seconds, _ = median_time(lambda: cross_view_metrics(emb, keys), repeats)
    out["cross_view_cmc_s"] = seconds
    print(f"cross-view CMC/mAP (3 probe sets vs all other-view gallery): median {seconds:.2f} s")
    return out


def bench_large(queries: int, gallery: int, c: int, p: int, identities: int, repeats: int) -> dict:
    rng = np.random.default_rng(1)
    gid = rng.integers(0, identities, gallery)
    qid = rng.integers(0, identities, queries)
    centres = rng.normal(size=(identities, c, p)).astype(np.float32)
    g = structured_embeddings(gid, centres, LARGE_NOISE, rng)
    q = structured_embeddings(qid, centres, LARGE_NOISE, rng)
    inputs_mib = (g.nbytes + q.nbytes) / 2**20
    dense_mib = queries * gallery * 4 / 2**20
    out = {"queries": queries, "gallery": gallery, "c": c, "p": p, "dense_matrix_mib": dense_mib}
    for threads in (1, torch.get_num_threads()):
        tracked = reset_peak_memory()
        before = resident_mib("VmRSS")
        seconds, result = median_time(lambda: reid_metrics(q, qid, g, gid, threads=threads), repeats)
        growth = resident_mib("VmHWM") - before if tracked else float("nan")
        print(f"large re-id, {threads} thread(s): {queries} x {gallery} [{c}, {p}], {identities} identities: "
              f"median {seconds:.1f} s ({queries * gallery / seconds / 1e6:.0f} M pairs/s); rank-1 {result['rank1']:.1f}, "
              f"mAP {result['mAP']:.1f}; peak RSS growth {growth:.0f} MiB (a dense distance matrix alone: "
              f"{dense_mib:.0f} MiB; inputs {inputs_mib:.0f} MiB)")
        out[f"threads_{threads}"] = {"seconds": seconds, "pairs_per_s": queries * gallery / seconds,
                                     "peak_rss_growth_mib": growth, "rank1": result["rank1"], "mAP": result["mAP"]}
        if threads == torch.get_num_threads():
            break
    return out


def sort_reference(dist: torch.Tensor, positive: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """First-match rank and AP from a full per-row sort (negatives first among ties)."""
    order = torch.argsort(positive.to(torch.int8), dim=1, stable=True)  # negatives first
    order = order.gather(1, torch.argsort(dist.gather(1, order), dim=1, stable=True))
    hits = positive.gather(1, order)  # [b, n] in rank order
    cum = hits.cumsum(1)
    ranks = torch.arange(1, dist.shape[1] + 1).unsqueeze(0)
    ap = ((cum / ranks) * hits).sum(1) / hits.sum(1).clamp_min(1)
    first = torch.where(hits.any(1), hits.to(torch.int8).argmax(1) + 1, 0)
    return first, ap


def bench_ranking(rows: int, cols: int, identities: int, repeats: int) -> dict:
    gen = torch.Generator().manual_seed(3)
    dist = torch.rand(rows, cols, generator=gen)
    positive = torch.randint(0, identities, (rows, 1), generator=gen) == torch.randint(0, identities, (1, cols), generator=gen)
    counted_s, stats = median_time(lambda: rank_positives(dist, positive), repeats)
    sorted_s, (first, ap) = median_time(lambda: sort_reference(dist, positive), repeats)
    assert torch.equal(stats.first_rank, first) and torch.allclose(stats.average_precision, ap.double(), atol=1e-6)
    print(f"ranking {rows} x {cols}: counting {counted_s:.2f} s, full sort {sorted_s:.2f} s "
          f"(sort / counting = {sorted_s / counted_s:.1f}x); results identical")
    return {"rows": rows, "cols": cols, "counting_s": counted_s, "full_sort_s": sorted_s, "ratio": sorted_s / counted_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--large-queries", type=int, default=5_000)
    parser.add_argument("--large-gallery", type=int, default=100_000)
    args = parser.parse_args()
    info = print_machine_info()
    figures = {"machine": info}
    if args.quick:
        figures["protocol"] = bench_protocol(10, 64, 8, 1)
        figures["large"] = bench_large(1000, 10_000, 64, 2, 500, 1)
        figures["ranking"] = bench_ranking(200, 5000, 100, 1)
    else:
        figures["protocol"] = bench_protocol(50, 256, 16, args.repeats)
        figures["large"] = bench_large(args.large_queries, args.large_gallery, 128, 4, 20_000, 1)
        figures["ranking"] = bench_ranking(1000, 50_000, 1000, args.repeats)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=float) + "\n")
        print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
