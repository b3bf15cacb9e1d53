"""Putting finished files in place atomically, so a reader never sees half a store or checkpoint."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def replace_directory(new: Path, target: Path) -> None:
    """Put the finished directory `new` at `target`; an old `target` is moved aside first, then removed.

    Each rename is atomic; between the two, `target` is briefly absent, never half-written.
    """
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.rename(target, old)
    os.rename(new, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
