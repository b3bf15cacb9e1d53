"""Which subjects train and which test: read from JSON under `gaitreid/splits/`, never hard-coded.

A split file names a dataset and one or more named splits:

    {"dataset": "casia-b", "default": "standard",
     "splits": {"standard": {"train": ["001-074"], "test": ["075-124"]},
                "dev":      {"train": ["001-050"], "test": ["051-074"]}}}

Subjects are listed one by one or as inclusive ranges of zero-padded numbers ("001-074"). A split
may instead give `"test_fraction": 0.25`: the last quarter of the dataset's subjects (sorted) test,
the rest train; useful for generated data whose subject count varies. With `"test_pattern"` (a
regular expression) only matching subjects can test (e.g. labelled `^[0-9]+$`); the others train.

Names: `casia-b` (the file's default split), `casia-b/dev`, or a path `my.json` / `my.json#dev`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from gaitreid.errors import ConfigError, DataError

_RANGE = re.compile(r"^(\d+)-(\d+)$")


@dataclass(frozen=True)
class Split:
    """A train/test partition of a dataset's subjects.

    `train_subjects` / `test_subjects` are the listed subjects, or None for a fraction split; use
    `train_subjects_in` / `test_subjects_in` to apply the split to the subjects a store holds.
    """

    name: str
    dataset: str
    description: str
    train_subjects: tuple[str, ...] | None
    test_subjects: tuple[str, ...] | None
    test_fraction: float | None = None
    test_pattern: str | None = None  # fraction splits: only subjects matching it can test

    def test_subjects_in(self, available: list[str]) -> list[str]:
        """The split's test subjects that are present in `available`, sorted."""
        available = sorted(set(available))
        if self.test_fraction is not None:
            if self.test_pattern is not None:
                available = [s for s in available if re.search(self.test_pattern, s)]
            n_test = min(len(available), max(1, math.ceil(self.test_fraction * len(available)))) if available else 0
            return available[len(available) - n_test :]
        chosen = set(self.test_subjects or ())
        return [s for s in available if s in chosen]

    def train_subjects_in(self, available: list[str]) -> list[str]:
        """The split's training subjects that are present in `available`, sorted."""
        available = sorted(set(available))
        if self.test_fraction is not None:
            test = set(self.test_subjects_in(available))
            return [s for s in available if s not in test]
        chosen = set(self.train_subjects or ())
        return [s for s in available if s in chosen]

    def require_test_subjects(self, available: list[str], where: str) -> list[str]:
        """Test subjects present in `available`, or a DataError naming `where` and what is there."""
        found = self.test_subjects_in(available)
        if not found:
            have = f"{available[0]}..{available[-1]} ({len(available)} subjects)" if available else "no subjects"
            raise DataError(
                f"{where}: none of the test subjects of split {self.name!r} are present (it has {have}); "
                f"pick another split, e.g. --split {self.dataset}/dev"
            )
        return found


def available_splits() -> list[str]:
    """Every packaged split name, e.g. `casia-b/standard`, `casia-b/dev`."""
    names = []
    for entry in sorted(resources.files("gaitreid").joinpath("splits").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            data = _parse(entry.read_text(), entry.name)
            names += [f"{entry.name[:-5]}/{split}" for split in data["splits"]]
    return names


def load_split(name_or_path: str) -> Split:
    """A packaged split by name (`casia-b`, `casia-b/dev`) or a split file (`path.json[#split]`)."""
    text, source, split_name, stem = _locate(name_or_path)
    data = _parse(text, source)
    split_name = split_name or data.get("default") or next(iter(data["splits"]))
    if split_name not in data["splits"]:
        raise ConfigError(f"{source}: no split named {split_name!r} (has {', '.join(data['splits'])})")
    entry = data["splits"][split_name]
    where = f"{source} split {split_name!r}"
    fraction = entry.get("test_fraction")
    pattern = entry.get("test_pattern")
    if fraction is not None:
        if not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
            raise ConfigError(f"{where}: test_fraction must be a number between 0 and 1, got {fraction!r}")
        if pattern is not None:
            try:
                re.compile(str(pattern))
            except re.error as err:
                raise ConfigError(f"{where}: test_pattern {pattern!r} is not a regular expression ({err})") from err
        train = test = None
    else:
        if "train" not in entry or "test" not in entry:
            raise ConfigError(f"{where}: needs 'train' and 'test' subject lists (or 'test_fraction')")
        train, test = _expand(entry["train"], where), _expand(entry["test"], where)
        overlap = sorted(set(train) & set(test))
        if overlap:
            raise ConfigError(f"{where}: subjects both train and test: {', '.join(overlap[:5])}")
    return Split(
        name=f"{stem}/{split_name}",
        dataset=str(data.get("dataset", stem)),
        description=str(entry.get("description", "")),
        train_subjects=train,
        test_subjects=test,
        test_fraction=float(fraction) if fraction is not None else None,
        test_pattern=str(pattern) if fraction is not None and pattern is not None else None,
    )


def _locate(name_or_path: str) -> tuple[str, str, str | None, str]:
    """(file text, where it came from, split name or None, file stem)."""
    if ".json" in name_or_path:
        path_part, _, split_name = name_or_path.partition("#")
        path = Path(path_part)
        try:
            return path.read_text(), str(path), split_name or None, path.stem
        except OSError as err:
            raise ConfigError(f"{path}: cannot read split file ({err.strerror or err})") from err
    stem, _, split_name = name_or_path.partition("/")
    entry = resources.files("gaitreid").joinpath("splits") / f"{stem}.json"
    if not entry.is_file():
        raise ConfigError(f"unknown split {name_or_path!r}; known: {', '.join(available_splits())}")
    return entry.read_text(), f"gaitreid/splits/{stem}.json", split_name or None, stem


def _parse(text: str, source: str) -> dict:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{source}: not valid JSON ({err})") from err
    if not isinstance(data, dict) or not isinstance(data.get("splits"), dict) or not data["splits"]:
        raise ConfigError(f"{source}: expected an object with a non-empty 'splits' object")
    return data


def _expand(items, where: str) -> tuple[str, ...]:
    """Subject names from a list of names and 'first-last' zero-padded ranges."""
    if not isinstance(items, list):
        raise ConfigError(f"{where}: subject lists must be JSON lists, got {type(items).__name__}")
    subjects: list[str] = []
    for item in items:
        item = str(item)
        match = _RANGE.match(item)
        if match:
            first, last = match.groups()
            if int(last) < int(first):
                raise ConfigError(f"{where}: empty subject range {item!r}")
            subjects += [f"{n:0{len(first)}d}" for n in range(int(first), int(last) + 1)]
        else:
            subjects.append(item)
    return tuple(subjects)
