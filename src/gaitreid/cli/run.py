"""`gaitreid run`: the whole pipeline: data, the three training phases, the evaluation.

    gaitreid run --preset demo                              # generated data, a few minutes on a CPU
    gaitreid run --preset casia-b-cpu --data /tmp/casia-b   # real CASIA-B (pkl or png tree)

Re-running with the same --run-dir continues: finished phases are kept, a killed one resumes.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from gaitreid.cli.train import _finish_distributed, add_config_arguments

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "run",
        help="prepare data, train SSL -> supervised -> hybrid, evaluate (CASIA-B protocol)",
        description="Prepare the data (generate it for the demo preset, convert a dataset root "
                    "otherwise), run the three training phases, evaluate, print the protocol table.",
    )
    add_config_arguments(p)
    p.add_argument("--run-dir", type=Path, help="run directory (default runs/<preset or config name>)")
    p.add_argument("--skip-eval", action="store_true", help="train only")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gaitreid.cli.train import load_run_config
    from gaitreid.errors import ConfigError
    from gaitreid.training import train_phase
    from gaitreid.training.data import prepare_store_once, resolve_split
    from gaitreid.training.runtime import setup_runtime

    if not args.preset and not args.config and not args.run_dir:
        raise ConfigError("give --preset NAME (e.g. demo), --config FILE or an existing --run-dir")
    run_dir = args.run_dir
    if run_dir is None:
        run_dir = Path("runs") / (args.preset or Path(args.config).stem)
    config = load_run_config(args, run_dir)
    runtime = setup_runtime(config.runtime)
    started = time.time()

    t0 = time.time()
    store = prepare_store_once(config.data, runtime)
    split = resolve_split(config.data, store)
    data_seconds = time.time() - t0
    if runtime.is_main:
        print(f"data: {store} ({data_seconds:.0f} s); {len(split.train)} training, {len(split.validation)} validation, "
              f"{len(split.test)} test subjects (split {config.data.split})")

    results = []
    for phase in ("ssl", "supervised", "hybrid"):
        if getattr(config.phase, phase).steps == 0:
            continue
        result = train_phase(config, phase, run_dir, store, split, resume=True, runtime=runtime)
        results.append(result)
        if runtime.is_main:
            best = f", validation rank-1 {result.best_val_rank1:.1f}%" if result.best_val_rank1 is not None else ""
            loss = f"{result.last_loss:.4f}" if result.last_loss is not None else "n/a"
            print(f"{phase}: {result.steps} steps, {result.wall_time_s:.0f} s, {result.frames_per_s:.0f} frames/s, "
                  f"last loss {loss}{best}")

    if runtime.is_main and not args.skip_eval:
        evaluate_run(config, run_dir, store)
        print(f"total wall time {time.time() - started:.0f} s; run directory {run_dir}")
    _finish_distributed(runtime)
    return 0


def evaluate_run(config, run_dir: Path, store) -> None:
    """Embed the split's test subjects with the run's final checkpoint; protocol table + report."""
    from gaitreid.evaluation.pipeline import evaluate_store
    from gaitreid.inference import Embedder

    embedder = Embedder.from_checkpoint(run_dir)
    t0 = time.time()
    evaluation = evaluate_store(
        lambda st, idx: embedder.embed_store(st, idx, batch_size=16),
        store,
        config.data.split,
        out_dir=run_dir,
        title=f"gaitreid run: {config.name}",
        info={"checkpoint": embedder.source, "fingerprint": embedder.fingerprint, "model": config.model.name},
    )
    protocol = evaluation.protocol
    print(f"evaluation ({time.time() - t0:.0f} s) of {embedder.source} on split {config.data.split}:")
    print(protocol.table())
    ranks = protocol.condition_rank1
    print("rank-1 (cross-view, identical view excluded): " + ", ".join(f"{t.upper()} {v:.1f}%" for t, v in ranks.items())
          + f"; mean {protocol.mean_rank1:.1f}%")
    if evaluation.baseline is not None:
        base = evaluation.baseline.condition_rank1
        print("GEI baseline rank-1: " + ", ".join(f"{t.upper()} {v:.1f}%" for t, v in base.items()))
    chance = 100.0 / max(1, len(protocol.subjects))
    print(f"chance level: {chance:.1f}% ({len(protocol.subjects)} test subjects); report {run_dir / 'report.html'}")
