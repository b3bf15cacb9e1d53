"""`gaitreid data`: look at a dataset tree or a store, and convert a tree into a store.

    gaitreid data info /tmp/casia-b             # subjects, conditions, views, sequences, frames, problems
    gaitreid data info ~/.cache/gaitreid/casia-b-casia-b-64x44-0123abcd4567
    gaitreid data convert /tmp/casia-b --height 32 --width 22
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

LIST_LIMIT = 20


def register(subparsers) -> None:
    p = subparsers.add_parser("data", help="inspect a dataset tree or store; convert a tree into a store",
                              description="Inspect silhouette datasets and convert them into the sequence store.")
    sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    info = sub.add_parser("info", help="subjects, conditions, views, sequences and frames; missing and unusable sequences",
                          description="Summarise a dataset tree (SUBJECT/CONDITION/VIEW/{*.png|*.pkl}) or a store. "
                                      "On a tree every sequence is read and pretreated (nothing is written) to find the "
                                      "unusable ones; --quick only lists folders.")
    info.add_argument("path", type=Path, metavar="PATH", help="dataset root or store directory")
    info.add_argument("--quick", action="store_true", help="only scan folders, do not read frames")
    info.add_argument("--verify", action="store_true", help="for a store: check the whole frames file's checksum")
    info.add_argument("--all", action="store_true", help="list every missing/unusable sequence and problem")
    _add_pretreat_options(info)
    info.set_defaults(func=info_command)

    conv = sub.add_parser("convert", help="convert a dataset tree into a sequence store (cached)",
                          description="Read and pretreat every sequence into a store under the cache folder; "
                                      "an existing store for the same source and parameters is reused.")
    conv.add_argument("path", type=Path, metavar="PATH", help="dataset root")
    conv.add_argument("--cache", type=Path, help="cache folder (default $GAITREID_CACHE or ~/.cache/gaitreid)")
    conv.add_argument("--workers", type=int, help="worker processes (default 1: on a busy 2-core machine more did not help)")
    conv.add_argument("--rebuild", action="store_true", help="convert again even when a valid cached store exists")
    conv.add_argument("--all", action="store_true", help="list every missing/unusable sequence and problem")
    _add_pretreat_options(conv)
    conv.set_defaults(func=convert_command)


def _add_pretreat_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--layout", default="casia-b", help="folder naming: casia-b (default), ou-mvlp, any")
    p.add_argument("--height", type=int, default=64, help="frame height after pretreatment (default 64)")
    p.add_argument("--width", type=int, default=44, help="frame width after pretreatment (default 44)")
    p.add_argument("--min-frames", type=int, default=5, help="shortest usable sequence, in frames (default 5)")


def _pretreat(args):
    from gaitreid.data.pretreat import PretreatConfig

    return PretreatConfig(height=args.height, width=args.width, min_frames=args.min_frames)


def info_command(args: argparse.Namespace) -> int:
    from gaitreid.data.store import SequenceStore, is_store

    if is_store(args.path):
        store = SequenceStore.open(args.path, verify="full" if args.verify else "sample")
        _print_store(store, args.all)
        return 0
    cfg = _pretreat(args)
    data_log = logging.getLogger("gaitreid.data")
    level = data_log.level
    if not getattr(args, "verbose", False):  # the problems are listed below; no need to warn as well
        data_log.setLevel(logging.ERROR)
    try:
        _print_tree_info(args, cfg)
    finally:
        data_log.setLevel(level)
    return 0


def _print_tree_info(args: argparse.Namespace, cfg) -> None:
    from gaitreid.data.convert import convert_scan
    from gaitreid.data.problems import count_kinds
    from gaitreid.data.scan import scan_tree

    scan = scan_tree(args.path, args.layout)
    keys = [s.key for s in scan.sequences]
    print(f"dataset    {scan.root} (layout {scan.layout.name})")
    _print_names(keys)
    missing = scan.missing_keys()
    if args.quick:
        frames = sum(len(s.files) for s in scan.sequences if s.kind == "png")
        print(f"sequences  {len(keys)} found, {len(missing)} missing")
        print(f"frames     {frames} PNG frames (pkl sequences not read with --quick)")
        problems, unusable = scan.problems, []
    else:
        summary = convert_scan(scan, cfg, writer=None)
        print(f"sequences  {len(keys)} found, {summary.sequences_usable} usable, {len(summary.unusable)} unusable, "
              f"{len(missing)} missing")
        print(f"frames     {summary.frames_read} read, {summary.frames_kept} kept after pretreatment to "
              f"{cfg.height}x{cfg.width} ({summary.frames_read - summary.frames_kept} dropped)")
        problems, unusable = summary.problems, summary.unusable
    _print_problems(count_kinds(problems), [str(p) for p in problems], [str(k) for k in missing], unusable, args.all)


def convert_command(args: argparse.Namespace) -> int:
    from gaitreid.data.store import build_store
    from gaitreid.errors import ConfigError

    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {args.workers}")
    store = build_store(args.path, _pretreat(args), cache_root=args.cache, layout=args.layout,
                        workers=args.workers, rebuild=args.rebuild)
    print(f"store      {store.path}")
    _print_store(store, args.all, header=False)
    return 0


def _print_store(store, show_all: bool, header: bool = True) -> None:
    m = store.manifest
    h, w = store.frame_shape
    if header:
        print(f"store      {store.path}")
    print(f"source     {m['source']} (layout {m.get('layout', '?')})")
    _print_names(store.keys)
    print(f"sequences  {len(store)}")
    print(f"frames     {store.num_frames} of {h}x{w} (uint8, {m['frames_bytes'] / 2**20:.1f} MiB); "
          f"lengths {int(store.lengths.min())}..{int(store.lengths.max())}, median {int(sorted(store.lengths)[len(store) // 2])}")
    conversion = m.get("conversion")
    if conversion:
        print(f"converted  {conversion['sequences_found']} sequences found, {conversion['sequences_usable']} usable; "
              f"{conversion['frames_read']} frames read, {conversion['frames_dropped']} dropped")
        problems = [f"{p['path']}: {p['message']}" for p in conversion["problems"]]
        _print_problems(conversion["problem_counts"], problems, conversion["missing"], conversion["unusable"], show_all)


def _print_names(keys) -> None:
    for label, names in (("subjects", {k.subject for k in keys}), ("conditions", {k.condition for k in keys}),
                         ("views", {k.view for k in keys})):
        names = sorted(names)
        shown = " ".join(names) if len(names) <= 12 else f"{' '.join(names[:4])} ... {' '.join(names[-4:])}"
        print(f"{label:<10} {len(names)}: {shown}")


def _print_problems(counts: dict, problems: list[str], missing: list[str], unusable: list[str], show_all: bool) -> None:
    if counts:
        print("problems   " + ", ".join(f"{n} {kind}" for kind, n in counts.items()))
    for title, items in (("missing sequences", missing), ("unusable sequences", unusable), ("problems", problems)):
        if not items or (title == "problems" and not show_all and len(items) == len(unusable)):
            continue
        print(f"{title} ({len(items)}):")
        shown = items if show_all else items[:LIST_LIMIT]
        for item in shown:
            print(f"  {item}")
        if len(shown) < len(items):
            print(f"  ... and {len(items) - len(shown)} more (--all lists them)")
