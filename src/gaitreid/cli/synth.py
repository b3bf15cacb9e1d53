"""`gaitreid synth OUT`: generate a synthetic gait dataset with CASIA-B's structure."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "synth",
        help="generate a synthetic walking-silhouette dataset (CASIA-B structure)",
        description="Generate procedural walkers (3-D articulated bodies, periodic gait, bags, coats, "
                    "segmentation noise) as subjects x conditions x 11 views, pretreated like real data.",
    )
    p.add_argument("out", type=Path, help="output folder (a store, or the root of a pkl/png tree)")
    p.add_argument("--subjects", type=int, default=50, help="number of subjects (default 50)")
    p.add_argument("--seed", type=int, default=0, help="random seed: same seed + options => identical output")
    p.add_argument("--format", choices=("store", "pkl", "png"), default="store",
                   help="store (pretreated, ready to train), pkl (OpenGait tree) or png (raw CASIA-B tree)")
    p.add_argument("--height", type=int, default=64, help="pretreated frame height (default 64)")
    p.add_argument("--width", type=int, default=44, help="pretreated frame width (default 44)")
    p.add_argument("--frames", type=int, nargs=2, metavar=("MIN", "MAX"), default=None,
                   help="frames per sequence, inclusive range (default 56 72: two to three gait cycles)")
    p.add_argument("--raw-height", type=int, default=None,
                   help="rows of the raw rendered frame before pretreatment (default 128)")
    p.add_argument("--unlabelled", action="store_true",
                   help="unlabelled mode: subjects u00001.. at random views and conditions (for SSL)")
    p.add_argument("--sequences", type=int, default=20, help="sequences per subject in --unlabelled mode")
    p.add_argument("--first-subject", type=int, default=1, help="id of the first subject (default 1)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing synthetic dataset at OUT")
    p.add_argument("--preview", action="store_true",
                   help="also write OUT.preview.png (contact sheet) and OUT.preview.gif (animation) of "
                        "the first labelled walkers of this seed")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from gaitreid.synth.dataset import SynthConfig
    from gaitreid.synth.sequence import RenderConfig
    from gaitreid.synth.write import write_dataset

    render = RenderConfig()
    if args.frames is not None:
        render = replace(render, frames=(args.frames[0], args.frames[1]))
    if args.raw_height is not None:
        render = replace(render, raw_height=args.raw_height)
    cfg = SynthConfig(subjects=args.subjects, seed=args.seed, height=args.height, width=args.width,
                      unlabelled=args.unlabelled, sequences=args.sequences, first_subject=args.first_subject,
                      render=render)
    workers = args.workers or os.cpu_count() or 1
    summary = write_dataset(args.out, cfg, fmt=args.format, workers=workers, overwrite=args.overwrite,
                            progress=True)
    log.info("wrote %d sequences, %d frames to %s in %.1f s (%.0f frames/s, %d workers)", summary["sequences"],
             summary["frames"], args.out, summary["seconds"], summary["frames_per_s"], workers)
    if args.preview:
        from gaitreid.synth.preview import write_preview

        paths = write_preview(args.out, cfg)
        log.info("preview: %s", ", ".join(str(p) for p in paths))
    return 0
