"""`gaitreid evaluate`: embed every test sequence with a trained checkpoint, run the CASIA-B
protocol, print the table and write the report.

    gaitreid evaluate runs/demo --data cache/synthetic-store
    gaitreid evaluate runs/casia/hybrid/best-00004000 --data /tmp/casia-b --split casia-b/dev

`--data` is a sequence store or a dataset tree (converted once, with the checkpoint's input size,
into the store cache). The split defaults to the one the run was trained with.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="CASIA-B protocol (rank-1 table, mAP, CMC) and an HTML report for a checkpoint",
        description="Embed every test sequence of the split (all frames, in order) with the checkpoint, "
                    "compute the CASIA-B cross-view protocol and write metrics.json, report.md, report.html.",
    )
    p.add_argument("checkpoint", metavar="RUN_OR_CHECKPOINT", type=Path,
                   help="a run directory, a phase directory or a checkpoint directory")
    p.add_argument("--data", required=True, type=Path, help="a sequence store or a CASIA-B style dataset tree")
    p.add_argument("--split", help="split name (e.g. casia-b, casia-b/dev, synthetic) or FILE.json[#name]; "
                                   "default: the run's own split, else casia-b")
    p.add_argument("--metric", choices=("euclidean", "cosine"), default="euclidean",
                   help="distance between embeddings, per part then averaged (default euclidean)")
    p.add_argument("--out", type=Path, help="report directory (default: the run directory)")
    p.add_argument("--cache", type=Path, help="store cache for converting a dataset tree (default $GAITREID_CACHE "
                                              "or ~/.cache/gaitreid)")
    p.add_argument("--batch-size", type=int, default=16, help="sequences per forward pass (default 16)")
    p.add_argument("--unmatched", choices=("miss", "skip"), default="miss",
                   help="a probe whose subject is absent from a gallery view: count a miss (reference code) or skip it")
    p.add_argument("--no-baseline", action="store_true", help="skip the gait-energy-image baseline")
    p.set_defaults(func=evaluate)


def evaluate(args: argparse.Namespace) -> int:
    from gaitreid.errors import ConfigError
    from gaitreid.evaluation.pipeline import evaluate_store
    from gaitreid.evaluation.report import find_metrics_logs
    from gaitreid.inference import Embedder

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")
    embedder = Embedder.from_checkpoint(args.checkpoint)
    checkpoint_dir = Path(embedder.source)
    run_dir = run_directory(args.checkpoint, checkpoint_dir)
    split = args.split or trained_split(checkpoint_dir) or "casia-b"
    out_dir = args.out or run_dir
    store = open_data(args.data, embedder.pretreat, args.cache)

    t0 = time.time()
    evaluation = evaluate_store(
        lambda st, idx: embedder.embed_store(st, idx, batch_size=args.batch_size),
        store,
        split,
        metric=args.metric,
        out_dir=out_dir,
        title=f"gaitreid evaluation: {run_dir.name}",
        info={"checkpoint": str(checkpoint_dir), "fingerprint": embedder.fingerprint,
              "model": getattr(embedder.model_config, "name", "?"), "metric": args.metric},
        gei_baseline=not args.no_baseline,
        metrics_logs=find_metrics_logs(run_dir),
        unmatched=args.unmatched,
    )
    protocol = evaluation.protocol
    print(protocol.summary())
    if evaluation.baseline is not None:
        base = evaluation.baseline.condition_rank1
        print("GEI baseline rank-1: " + ", ".join(f"{t.upper()} {v:.1f}" for t, v in base.items())
              + f"; mean {evaluation.baseline.mean_rank1:.1f}")
    cross = ", ".join(f"{t.upper()} rank-1 {m['rank1']:.1f} / rank-5 {m['rank5']:.1f} / mAP {m['mAP']:.1f}"
                      for t, m in evaluation.cross_view.items())
    print(f"cross-view re-id (each probe vs all other-view gallery sequences): {cross}")
    seconds = ", ".join(f"{k} {v:.1f} s" for k, v in evaluation.seconds.items())
    print(f"{len(evaluation.indices)} sequences of {len(protocol.subjects)} test subjects ({seconds}; "
          f"total {time.time() - t0:.0f} s); report {evaluation.report['html']}")
    return 0


def run_directory(given: Path, checkpoint_dir: Path) -> Path:
    """The run directory: the path given when it is one, else the checkpoint's run (RUN/PHASE/CKPT)."""
    if given.is_dir() and given.resolve() != checkpoint_dir.resolve() and not (given / "state.json").is_file():
        phase_names = ("ssl", "supervised", "hybrid")
        return given.parent if given.name in phase_names else given
    return checkpoint_dir.parent.parent if checkpoint_dir.parent.name in ("ssl", "supervised", "hybrid") else checkpoint_dir.parent


def trained_split(checkpoint_dir: Path) -> str | None:
    """The split named in the checkpoint's run config, when it records one."""
    try:
        state = json.loads((checkpoint_dir / "state.json").read_text())
        split = state["config"]["data"]["split"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return split if isinstance(split, str) and split else None


def open_data(path: Path, pretreat, cache: Path | None):
    """A store as it is (its frame size must fit the model), or a dataset tree converted with `pretreat`."""
    from gaitreid.data.store import SequenceStore, build_store, is_store
    from gaitreid.errors import DataError

    if not path.exists():
        raise DataError(f"{path}: no such store or dataset folder")
    if is_store(path):
        store = SequenceStore.open(path)
        if tuple(store.frame_shape) != (pretreat.height, pretreat.width):
            h, w = store.frame_shape
            raise DataError(
                f"{path}: store frames are {h}x{w}, the checkpoint expects {pretreat.height}x{pretreat.width}; "
                "pass the dataset tree instead so it is converted at the right size"
            )
        return store
    return build_store(path, pretreat=pretreat, cache_root=cache)
