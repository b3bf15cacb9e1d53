"""Problems found in a dataset: each names a path and what is wrong, and is counted in a summary.

Readers and the scanner never stop at the first bad file: they record a `Problem`, log it as a
warning, skip what cannot be used, and leave it to the caller to raise `DataError` when nothing
usable is left.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass

log = logging.getLogger("gaitreid.data")

# The kinds of problem, as counted in summaries.
UNEXPECTED_NAME = "unexpected name"
EMPTY_FOLDER = "empty folder"
UNREADABLE_FILE = "unreadable file"  # corrupt, zero-byte, or not an image / array
UNSAFE_PICKLE = "unsafe pickle"
MIXED_SIZES = "mixed frame sizes"
NO_FOREGROUND = "no foreground"  # every frame black or nearly so
TOO_SHORT = "too short"
AMBIGUOUS = "ambiguous folder"  # e.g. several pkl files for one sequence


@dataclass(frozen=True)
class Problem:
    kind: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"

    def to_dict(self) -> dict:
        return asdict(self)


def report(kind: str, path, message: str) -> Problem:
    """Make a Problem and log it as a warning naming the path."""
    problem = Problem(kind, str(path), message)
    log.warning("warning: %s", problem)
    return problem


def count_kinds(problems: list[Problem]) -> dict[str, int]:
    return dict(sorted(Counter(p.kind for p in problems).items()))
