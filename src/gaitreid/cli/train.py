"""`gaitreid train ssl|supervised|hybrid`: run one training phase (resumable; torchrun for DDP).

    gaitreid train ssl --preset casia-b-cpu --run-dir runs/cb --data /tmp/casia-b
    gaitreid train supervised --run-dir runs/cb            # finds runs/cb/ssl, reads runs/cb/config.yaml
    gaitreid train ssl --run-dir runs/cb --resume          # continue a killed run exactly
    torchrun --nproc_per_node=2 -m gaitreid train ssl --preset demo --run-dir runs/ddp
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)

PHASES = ("ssl", "supervised", "hybrid")


def add_config_arguments(p: argparse.ArgumentParser) -> None:
    """--preset / --config / --set / --data: shared by `train` and `run`."""
    p.add_argument("--preset", help="configuration preset (demo, casia-b-cpu, casia-b-gpu)")
    p.add_argument("--config", type=Path, help="a YAML config file instead of a preset")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set phase.ssl.steps=200 (repeatable)")
    p.add_argument("--data", help="dataset root (overrides data.source), e.g. a CASIA-B pkl tree")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train one phase: ssl (SimCLR), supervised (cross-entropy) or hybrid (CE + triplet)",
        description="Train one phase into RUN_DIR/<phase>/. Later phases start from the previous "
                    "phase's checkpoint in the same run directory (or --init).",
    )
    p.add_argument("phase", choices=PHASES)
    add_config_arguments(p)
    p.add_argument("--run-dir", type=Path, required=True, help="run directory (config.yaml and phase folders)")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint of this phase")
    p.add_argument("--init", help="initialise from this checkpoint / phase / run directory instead of the previous phase")
    p.set_defaults(func=run)


def load_run_config(args: argparse.Namespace, run_dir: Path):
    """Preset or file if given; otherwise the run directory's saved config.yaml; then --set/--data."""
    from gaitreid.config import load_config
    from gaitreid.errors import ConfigError

    overrides = list(args.overrides or [])
    if args.data:
        overrides.append(f"data.source={args.data}")
    if args.preset or args.config:
        return load_config(preset=args.preset, path=args.config, overrides=overrides)
    saved = run_dir / "config.yaml"
    if saved.is_file():
        return load_config(path=saved, overrides=overrides)
    raise ConfigError(f"no --preset or --config given and {saved} does not exist")


def run(args: argparse.Namespace) -> int:
    from gaitreid.training import train_phase
    from gaitreid.training.data import prepare_store_once, resolve_split
    from gaitreid.training.runtime import setup_runtime

    config = load_run_config(args, args.run_dir)
    runtime = setup_runtime(config.runtime)
    store = prepare_store_once(config.data, runtime)
    split = resolve_split(config.data, store)
    if runtime.is_main:
        log.info("%s: %d training subjects, %d validation subjects, store %s", args.phase, len(split.train), len(split.validation), store)
    result = train_phase(config, args.phase, args.run_dir, store, split, resume=args.resume, init=args.init, runtime=runtime)
    if runtime.is_main:
        best = f", best validation rank-1 {result.best_val_rank1:.1f}%" if result.best_val_rank1 is not None else ""
        loss = f"{result.last_loss:.4f}" if result.last_loss is not None else "n/a"
        print(f"{args.phase}: {result.steps} steps in {result.wall_time_s:.0f} s ({result.frames_per_s:.0f} frames/s), "
              f"last loss {loss}{best}; checkpoint {result.checkpoint}")
    _finish_distributed(runtime)
    return 0


def _finish_distributed(runtime) -> None:
    import torch.distributed as dist

    if runtime.distributed and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
