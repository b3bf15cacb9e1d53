"""The one place for the facts of a gait dataset's layout: conditions, views, sequence keys.

A dataset on disk is a tree `SUBJECT/CONDITION/VIEW/<frames>`; CASIA-B names conditions
`nm-01..06`, `bg-01..02`, `cl-01..02` and views `000..180` in 18 degree steps.
"""

from __future__ import annotations

from dataclasses import dataclass

CASIA_B_VIEWS: tuple[str, ...] = tuple(f"{angle:03d}" for angle in range(0, 181, 18))
CASIA_B_CONDITIONS: tuple[str, ...] = (
    *(f"nm-{i:02d}" for i in range(1, 7)),
    *(f"bg-{i:02d}" for i in range(1, 3)),
    *(f"cl-{i:02d}" for i in range(1, 3)),
)


@dataclass(frozen=True, order=True)
class SequenceKey:
    """Names one walking sequence: who, under which condition, seen from which view."""

    subject: str
    condition: str
    view: str

    def __str__(self) -> str:
        return f"{self.subject}/{self.condition}/{self.view}"

    @property
    def condition_type(self) -> str:
        """`nm`, `bg`, `cl` for CASIA-B style names (`nm-01` -> `nm`); the name itself otherwise."""
        return self.condition.split("-", 1)[0]
