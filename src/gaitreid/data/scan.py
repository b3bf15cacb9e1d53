"""Find the sequences in a dataset tree `SUBJECT/CONDITION/VIEW/{*.png | *.pkl}`.

Folder names are checked against a small layout description, so other datasets of the same
shape can be read: CASIA-B (`001/nm-01/090`), OU-MVLP as OpenGait stores it (`00001/00/090`,
the sequence number standing in for the condition), or "any" (every folder name accepted).
Nothing is read here but directory listings; folders that do not fit are reported and skipped.
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from gaitreid.data.layout import CASIA_B_CONDITIONS, CASIA_B_VIEWS, SequenceKey
from gaitreid.data.problems import AMBIGUOUS, EMPTY_FOLDER, UNEXPECTED_NAME, Problem, report
from gaitreid.errors import ConfigError, DataError

FRAME_SUFFIXES = {".png": "png", ".pkl": "pkl"}


@dataclass(frozen=True)
class DatasetLayout:
    """Which folder names are valid at each level, and which sequences a complete dataset has."""

    name: str
    subject: str  # regular expressions, matched in full
    condition: str
    view: str
    expected_conditions: tuple[str, ...] = ()  # empty: whatever the data shows
    expected_views: tuple[str, ...] = ()

    def accepts(self, level: str, name: str) -> bool:
        return re.fullmatch(getattr(self, level), name) is not None


LAYOUTS: dict[str, DatasetLayout] = {
    "casia-b": DatasetLayout(
        "casia-b", subject=r"\d{3}", condition=r"(nm|bg|cl)-\d{2}", view=r"\d{3}",
        expected_conditions=CASIA_B_CONDITIONS, expected_views=CASIA_B_VIEWS,
    ),
    "ou-mvlp": DatasetLayout("ou-mvlp", subject=r"\d{3,6}", condition=r"\d{2}", view=r"\d{3}"),
    "any": DatasetLayout("any", subject=r"[^.].*", condition=r"[^.].*", view=r"[^.].*"),
}


def get_layout(name: str) -> DatasetLayout:
    try:
        return LAYOUTS[name]
    except KeyError:
        raise ConfigError(f"unknown dataset layout {name!r}; choose one of {', '.join(LAYOUTS)}") from None


@dataclass(frozen=True)
class SequenceSource:
    """Where one sequence's frames are: a folder of PNG frames or one pkl array."""

    key: SequenceKey
    folder: Path
    kind: str  # "png" or "pkl"
    files: tuple[Path, ...]


@dataclass
class ScanResult:
    root: Path
    layout: DatasetLayout
    sequences: list[SequenceSource]
    problems: list[Problem] = field(default_factory=list)

    def expected_keys(self) -> list[SequenceKey]:
        """Every subject x condition x view a complete dataset of this layout would hold."""
        subjects = sorted({s.key.subject for s in self.sequences})
        conditions = self.layout.expected_conditions or sorted({s.key.condition for s in self.sequences})
        views = self.layout.expected_views or sorted({s.key.view for s in self.sequences})
        return [SequenceKey(*names) for names in itertools.product(subjects, conditions, views)]

    def missing_keys(self) -> list[SequenceKey]:
        found = {s.key for s in self.sequences}
        return [key for key in self.expected_keys() if key not in found]


def _natural_key(name: str):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _subfolders(folder: Path) -> list[Path]:
    """Visible subfolders, naturally sorted; files at this level are not frames and are ignored."""
    with os.scandir(folder) as entries:
        names = [e.name for e in entries if not e.name.startswith(".") and e.is_dir()]
    return [folder / name for name in sorted(names, key=_natural_key)]


def scan_tree(root: str | Path, layout: str | DatasetLayout = "casia-b") -> ScanResult:
    """List the sequences under `root`; DataError when the root is missing or holds none."""
    root = Path(root).expanduser()
    layout = get_layout(layout) if isinstance(layout, str) else layout
    if not root.exists():
        raise DataError(f"{root}: dataset root not found")
    if not root.is_dir():
        raise DataError(f"{root}: dataset root is not a folder")
    result = ScanResult(root=root.resolve(), layout=layout, sequences=[])
    levels = ("subject", "condition", "view")

    def walk(folder: Path, depth: int, names: tuple[str, ...]) -> None:
        children = _subfolders(folder)
        if not children and depth > 0:
            result.problems.append(report(EMPTY_FOLDER, folder, f"empty {levels[depth - 1]} folder, no {levels[depth]} folders"))
        for child in children:
            if not layout.accepts(levels[depth], child.name):
                result.problems.append(report(
                    UNEXPECTED_NAME, child,
                    f"unexpected {levels[depth]} folder name {child.name!r} for layout {layout.name} (skipped)",
                ))
                continue
            if depth < 2:
                walk(child, depth + 1, names + (child.name,))
            else:
                source = sequence_source(child, SequenceKey(*names, child.name), result.problems)
                if source is not None:
                    result.sequences.append(source)

    walk(result.root, 0, ())
    if not result.sequences:
        raise DataError(
            f"{root}: no sequences found (expected {layout.name} layout SUBJECT/CONDITION/VIEW/"
            f"{{*.png | *.pkl}}; {len(result.problems)} problem(s) reported above)"
        )
    return result


def sequence_source(folder: Path, key: SequenceKey, problems: list[Problem]) -> SequenceSource | None:
    """The frames of one sequence folder (PNG frames or one pkl), or None with a problem recorded.

    Public because a single folder given on the command line (enrol, identify) is read the same way.
    """
    by_kind: dict[str, list[Path]] = {"png": [], "pkl": []}
    with os.scandir(folder) as entries:
        for entry in entries:
            kind = FRAME_SUFFIXES.get(os.path.splitext(entry.name)[1].lower())
            if kind and not entry.name.startswith(".") and entry.is_file():
                by_kind[kind].append(folder / entry.name)
    pngs = sorted(by_kind["png"], key=lambda p: _natural_key(p.name))
    pkls = sorted(by_kind["pkl"], key=lambda p: _natural_key(p.name))
    if pkls:
        if pngs:
            problems.append(report(AMBIGUOUS, folder, "holds both .pkl and .png frames; using the .pkl"))
        named = [p for p in pkls if p.stem == key.view]
        if len(pkls) > 1 and not named:
            problems.append(report(AMBIGUOUS, folder, f"{len(pkls)} .pkl files and none named {key.view}.pkl (skipped)"))
            return None
        return SequenceSource(key, folder, "pkl", ((named or pkls)[0],))
    if pngs:
        return SequenceSource(key, folder, "png", tuple(pngs))
    problems.append(report(EMPTY_FOLDER, folder, "empty sequence folder: no .png or .pkl frames (skipped)"))
    return None
