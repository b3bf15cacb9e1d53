"""The `gaitreid` command: one subcommand per module in this package.

Each command module exposes `register(subparsers)`, which adds its parser and sets
`func(args) -> int`. Errors a user can fix (`GaitReidError`) end in one clear line and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from gaitreid import __version__
from gaitreid.errors import GaitReidError

# Order here is the order in `gaitreid --help`.
COMMAND_MODULES = [
    "gaitreid.cli.data",
    "gaitreid.cli.synth",
    "gaitreid.cli.train",
    "gaitreid.cli.run",
    "gaitreid.cli.evaluate",
    "gaitreid.cli.gallery",
    "gaitreid.cli.extract",
    "gaitreid.cli.export",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gaitreid",
        description="Gait-based person re-identification: data, synthetic data, training, evaluation, use.",
    )
    parser.add_argument("--version", action="version", version=f"gaitreid {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="more log output")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s: %(message)s" if args.verbose else "%(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except GaitReidError as err:
        print(f"gaitreid: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gaitreid: interrupted", file=sys.stderr)
        return 130
