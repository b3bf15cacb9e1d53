"""Gallery search latency: one identify query against 1e3 .. 1e6 enrolled embeddings, exact vs index.

    .venv/bin/python benchmarks/bench_gallery.py                  # 1e3, 1e4, 1e5, 1e6 (~10 min, ~17 GB disk)
    .venv/bin/python benchmarks/bench_gallery.py --quick          # 1e3, 1e4, 1e5, fewer queries
    .venv/bin/python benchmarks/bench_gallery.py --json out.json

Embeddings have the default model's size, [128, 31] float32 (gaitset-compact: 128 channels x 31
parts = 15.5 KiB each), 10 sequences per identity around an identity centre. Per gallery size:
- exact: `ExactSearch` (part-major copy in RAM) while the matrix fits --max-ram-gib, else
  `ChunkedExactSearch` streaming the matrix from a memmap on disk;
- index: `IndexSearch` (faiss IVF-PQ codes in RAM, candidates re-ranked exactly from the matrix);
  its recall@1 is the fraction of queries whose nearest row equals the exact search's;
- build: one-time cost (exact: the part-major copy; index: k-means training + adding);
- load: reading the embeddings back from a real SQLite gallery (sizes up to --sqlite-max).
Latencies are medians over the queries (search only: embedding the query is not included).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import print_machine_info  # noqa: E402

from gaitreid.gallery.database import Gallery, ModelBinding, NewSequence  # noqa: E402
from gaitreid.gallery.search import ChunkedExactSearch, ExactSearch, IndexSearch  # noqa: E402

PER_IDENTITY = 10
CHUNK = 16_380  # rows generated at a time (a multiple of PER_IDENTITY: identities never straddle)
SPREAD = 0.6  # within-identity noise relative to the unit-variance centres
NOISE_POOL = 8192


def generate(n: int, shape: tuple[int, int], out: np.ndarray, query_ids: np.ndarray, seed: int) -> np.ndarray:
    """Fill `out` [n, c, p] chunk by chunk; return the centres of `query_ids` [q, c, p].

    Centres are fresh normal draws per identity; the within-identity noise is drawn from a pool
    of NOISE_POOL rows (drawing 4e9 fresh normals for 1e6 rows took minutes on 2 busy cores;
    rows stay distinct because every identity has its own centre).
    """
    wanted = {int(i): k for k, i in enumerate(query_ids)}
    centres_of_queries = np.zeros((len(query_ids), *shape), dtype=np.float32)
    pool = SPREAD * np.random.default_rng([seed, 2**31]).standard_normal((NOISE_POOL, *shape), dtype=np.float32)
    for start in range(0, n, CHUNK):
        rows = min(CHUNK, n - start)
        rng = np.random.default_rng([seed, start])
        first_id = start // PER_IDENTITY
        ids = np.arange(rows) // PER_IDENTITY  # identity within the chunk
        centres = rng.standard_normal((ids[-1] + 1, *shape), dtype=np.float32)
        out[start : start + rows] = centres[ids] + pool[rng.integers(0, NOISE_POOL, rows)]
        for local in range(ids[-1] + 1):
            if first_id + local in wanted:
                centres_of_queries[wanted[first_id + local]] = centres[local]
    return centres_of_queries


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def sqlite_load_seconds(embeddings: np.ndarray, folder: Path) -> tuple[float, float]:
    """(enrol seconds, load seconds) for a real gallery file holding `embeddings`."""
    path = folder / "bench.db"
    binding = ModelBinding("bench", {"checkpoint": "none"}, tuple(embeddings.shape[1:]))
    start = time.perf_counter()
    with Gallery.open(path, create=True) as gallery:
        for first in range(0, len(embeddings), PER_IDENTITY * 100):  # 100 identities per transaction
            for ident in range(first, min(first + PER_IDENTITY * 100, len(embeddings)), PER_IDENTITY):
                seqs = [NewSequence(f"/bench/{row}", 30, np.asarray(embeddings[row])) for row in range(ident, ident + PER_IDENTITY)]
                gallery.enrol(f"id{ident // PER_IDENTITY:07d}", seqs, binding)
    enrol = time.perf_counter() - start
    with Gallery.open(path) as gallery:
        load, loaded = timed(gallery.load_embeddings)
    assert loaded.embeddings.shape == embeddings.shape
    path.unlink()
    return enrol, load


def bench_size(n: int, args, tmp: Path) -> dict:
    shape = (args.dim, args.parts)
    matrix_gib = n * shape[0] * shape[1] * 4 / 2**30
    in_ram = matrix_gib <= args.max_ram_gib
    rng = np.random.default_rng(args.seed)
    queries = args.queries
    query_ids = rng.choice(n // PER_IDENTITY, size=queries, replace=False)
    if in_ram:
        matrix = np.empty((n, *shape), dtype=np.float32)
    else:
        matrix = np.lib.format.open_memmap(tmp / f"gallery-{n}.npy", mode="w+", dtype=np.float32, shape=(n, *shape))
    gen_s, centres = timed(lambda: generate(n, shape, matrix, query_ids, args.seed))
    if not in_ram:
        matrix.flush()
    probes = centres + SPREAD * rng.standard_normal(centres.shape, dtype=np.float32)
    row = {"size": n, "embedding": list(shape), "matrix_gib": round(matrix_gib, 3),
           "matrix_in": "ram" if in_ram else "memmap", "generate_s": round(gen_s, 1)}

    build_s, exact = timed(lambda: ExactSearch(matrix) if in_ram else ChunkedExactSearch(matrix))
    exact_queries = queries if in_ram else min(queries, args.slow_queries)
    exact_times, exact_rows, correct = [], [], 0
    for k in range(exact_queries):
        seconds, found = timed(lambda: exact.nearest(probes[k], 5))
        exact_times.append(seconds)
        exact_rows.append(int(found.rows[0]))
        correct += int(found.rows[0]) // PER_IDENTITY == int(query_ids[k])
    row.update(exact_kind=exact.kind, exact_build_s=round(build_s, 2),
               exact_ms=round(1000 * statistics.median(exact_times), 2), exact_queries=exact_queries,
               exact_top1_identity_correct=round(correct / exact_queries, 3))
    del exact

    if not args.no_index:
        build_s, index = timed(lambda: IndexSearch(matrix, "euclidean"))
        index_times, agree = [], 0
        for k in range(queries):
            seconds, found = timed(lambda: index.nearest(probes[k], 5))
            index_times.append(seconds)
            if k < len(exact_rows):
                agree += int(found.rows[0]) == exact_rows[k]
        import faiss

        row.update(index_kind=type(index.index).__name__, index_build_s=round(build_s, 1),
                   index_ms=round(1000 * statistics.median(index_times), 2),
                   index_recall_at_1=round(agree / len(exact_rows), 3),
                   index_gib=round(len(faiss.serialize_index(index.index)) / 2**30, 3),
                   speedup=round(row["exact_ms"] / (1000 * statistics.median(index_times)), 1))
        del index
    if n <= args.sqlite_max:
        enrol_s, load_s = sqlite_load_seconds(matrix, tmp)
        row.update(sqlite_enrol_s=round(enrol_s, 1), sqlite_load_s=round(load_s, 2))
    row["peak_rss_gib"] = round(peak_rss_gib(), 2)
    del matrix
    (tmp / f"gallery-{n}.npy").unlink(missing_ok=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="sizes 1e3..1e5, 10 queries, SQLite up to 1e4")
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--dim", type=int, default=128, help="embedding channels c (default 128)")
    parser.add_argument("--parts", type=int, default=31, help="embedding parts p (default 31)")
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--slow-queries", type=int, default=3, help="queries for exact search streamed from disk")
    parser.add_argument("--max-ram-gib", type=float, default=4.0, help="larger matrices go to a memmap on disk")
    parser.add_argument("--sqlite-max", type=int, default=100_000, help="largest size also stored in SQLite")
    parser.add_argument("--no-index", action="store_true")
    parser.add_argument("--tmpdir", default=None, help="where memmaps and the SQLite file go")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.queries, args.sqlite_max = "1000,10000,100000", 10, 10_000
    torch.set_num_threads(1)  # ExactSearch runs single-query products on one thread anyway
    info = print_machine_info()
    import faiss

    info["faiss"] = faiss.__version__
    print(f"faiss {faiss.__version__}, embeddings [{args.dim}, {args.parts}] float32 = "
          f"{args.dim * args.parts * 4 / 1024:.1f} KiB each; medians over the queries\n")
    rows = []
    with tempfile.TemporaryDirectory(dir=args.tmpdir) as tmp:
        for n in (int(float(s)) for s in args.sizes.split(",")):
            row = bench_size(n, args, Path(tmp))
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\n{'size':>9} {'matrix':>9} {'exact':>16} {'ms':>9} {'index':>11} {'ms':>8} {'recall@1':>8} {'x':>6} {'build s':>8} {'sqlite load s':>13}")
    for r in rows:
        print(f"{r['size']:>9} {r['matrix_gib']:>7.2f}G {r['exact_kind'] + '/' + r['matrix_in']:>16} {r['exact_ms']:>9.1f} "
              f"{r.get('index_kind', '-'):>11} {r.get('index_ms', float('nan')):>8.2f} {r.get('index_recall_at_1', float('nan')):>8.2f} "
              f"{r.get('speedup', float('nan')):>6.1f} {r.get('index_build_s', float('nan')):>8.1f} {r.get('sqlite_load_s', float('nan')):>13.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
