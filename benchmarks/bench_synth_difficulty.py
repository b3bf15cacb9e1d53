"""How hard is the synthetic dataset? GEI + nearest neighbour under the CASIA-B protocol, synthetic vs real.

The gait energy image (mean silhouette) with Euclidean nearest neighbour is the classical
baseline. Run with the CASIA-B protocol (gallery nm-01..04; probes nm-05/06, bg-01/02, cl-01/02;
11 views; identical view excluded) on synthetic subjects and on real CASIA-B subjects, it shows
whether the generator has the real profile: high for equal views, a large drop across views,
NM > BG > CL. Both 3 x 11 rank-1 tables are printed.

    .venv/bin/python benchmarks/bench_synth_difficulty.py --subjects 24 --real-root /tmp/casia-b \
        --real-subjects 051-074 [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import print_machine_info  # noqa: E402

from gaitreid.data.layout import CASIA_B_CONDITIONS, CASIA_B_VIEWS, SequenceKey  # noqa: E402
from gaitreid.data.pretreat import PretreatConfig, pretreat_sequence  # noqa: E402
from gaitreid.data.safe_pickle import load_numpy_pickle  # noqa: E402
from gaitreid.data.store import SequenceStore, StoreWriter  # noqa: E402
from gaitreid.evaluation import casia_b_protocol, gei_embeddings  # noqa: E402
from gaitreid.synth import SynthConfig, write_dataset  # noqa: E402


def same_view_rank1(result) -> dict[str, float]:
    """Mean rank-1 over the diagonal cells (probe view == gallery view), per probe type."""
    idx = np.arange(len(result.views))
    return {t: float(np.nanmean(result.rank1[i, idx, idx])) for i, t in enumerate(result.probe_types)}


def falloff(result) -> dict[str, list[float]]:
    """Rank-1 per probe type by view difference (0, 18, ..., 180 degrees): how fast views part."""
    v = len(result.views)
    gap = np.abs(np.arange(v)[:, None] - np.arange(v)[None, :])  # [v, v] in view steps
    return {t: [float(np.nanmean(result.rank1[i][gap == d])) for d in range(v)]
            for i, t in enumerate(result.probe_types)}


def evaluate_store(store: SequenceStore) -> dict:
    embeddings = gei_embeddings(store)  # [N, H*W, 1]
    result = casia_b_protocol(embeddings, store.keys, metric="euclidean")
    return {"result": result, "same_view": same_view_rank1(result), "falloff": falloff(result)}


def real_store(root: Path, subjects: list[str], out: Path, pretreat: PretreatConfig) -> SequenceStore:
    """Pretreat the real pkl sequences of `subjects` into a temporary store (never kept)."""
    with StoreWriter(out, pretreat, source=str(root)) as writer:
        for subject in subjects:
            for condition in CASIA_B_CONDITIONS:
                for view in CASIA_B_VIEWS:
                    path = root / subject / condition / view / f"{view}.pkl"
                    if not path.is_file():
                        continue
                    frames = pretreat_sequence(load_numpy_pickle(path), pretreat)
                    if len(frames) >= pretreat.min_frames:
                        writer.add(SequenceKey(subject, condition, view), frames)
    return SequenceStore.open(out)


def subject_range(text: str) -> list[str]:
    first, _, last = text.partition("-")
    return [f"{i:03d}" for i in range(int(first), int(last or first) + 1)]


def report(name: str, evaluation: dict, seconds: float) -> dict:
    result = evaluation["result"]
    print(f"\n== {name} ({seconds:.1f} s) ==")
    print(result.table("rank1"))
    same = evaluation["same_view"]
    print("same-view rank-1 (diagonal): " + ", ".join(f"{t.upper()} {v:.1f}" for t, v in same.items()))
    print("rank-1 by view difference  " + "".join(f"{18 * d:>6}" for d in range(len(result.views))))
    for t, row in evaluation["falloff"].items():
        print(f"  {t.upper():<25}" + "".join(f"{x:6.1f}" for x in row))
    return {"rank1": result.condition_rank1, "mean_rank1": result.mean_rank1,
            "per_view_rank1": {t: row.tolist() for t, row in zip(result.probe_types, result.per_view_rank1)},
            "same_view_rank1": same, "by_view_difference": evaluation["falloff"], "subjects": len(result.subjects), "seconds": seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=24, help="synthetic test subjects (default 24)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--first-subject", type=int, default=101,
                        help="first synthetic subject id (default 101: not the ids a training set starts with)")
    parser.add_argument("--height", type=int, default=64)
    parser.add_argument("--width", type=int, default=44)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--real-root", type=Path, default=Path("/tmp/casia-b"),
                        help="real CASIA-B pkl tree (skipped when absent)")
    parser.add_argument("--real-subjects", default="051-074", help="range of real subjects, e.g. 051-074")
    parser.add_argument("--no-real", action="store_true", help="only the synthetic table")
    parser.add_argument("--no-synthetic", action="store_true", help="only the real table")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()

    info = print_machine_info()
    out = {"machine": info, "benchmark": "synth_difficulty"}
    pretreat = PretreatConfig(height=args.height, width=args.width)
    with tempfile.TemporaryDirectory(prefix="synth-difficulty-") as tmp:
        if not args.no_synthetic:
            start = time.perf_counter()
            cfg = SynthConfig(subjects=args.subjects, seed=args.seed, height=args.height, width=args.width,
                              first_subject=args.first_subject)
            write_dataset(Path(tmp) / "synthetic", cfg, fmt="store", workers=args.workers)
            synthetic = evaluate_store(SequenceStore.open(Path(tmp) / "synthetic"))
            out["synthetic"] = report(f"synthetic: {args.subjects} subjects, seed {args.seed}", synthetic,
                                      time.perf_counter() - start)
        if args.no_real:
            pass
        elif not args.real_root.is_dir():
            print(f"\n(real CASIA-B table skipped: {args.real_root} not found)")
        else:
            start = time.perf_counter()
            subjects = [s for s in subject_range(args.real_subjects) if (args.real_root / s).is_dir()]
            real = evaluate_store(real_store(args.real_root, subjects, Path(tmp) / "real", pretreat))
            out["real"] = report(f"real CASIA-B: subjects {subjects[0]}-{subjects[-1]} ({len(subjects)})", real,
                                 time.perf_counter() - start)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
