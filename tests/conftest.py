"""Shared test options and fixtures.

- `--runslow` runs tests marked `slow` (skipped with a reason otherwise).
- Tests marked `casia` need the real CASIA-B copy in `../shared/datasets/casia-b` (or
  `$GAITREID_CASIA_B`); they are skipped with a reason when it is absent.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CASIA_B_SHARED = Path(os.environ.get("GAITREID_CASIA_B", REPO_ROOT.parent / "shared" / "datasets" / "casia-b"))


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow (make test-all)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


def casia_b_subject_archive(subject: int) -> Path:
    return CASIA_B_SHARED / "subjects" / f"{subject:03d}.tar.xz"


@pytest.fixture(scope="session")
def casia_b_subject001(tmp_path_factory) -> Path:
    """Subject 001 of the real CASIA-B (pkl layout), unpacked into a temporary root."""
    archive = casia_b_subject_archive(1)
    if not archive.is_file():
        pytest.skip(f"real CASIA-B data absent: {archive} not found")
    root = tmp_path_factory.mktemp("casia-b")
    with tarfile.open(archive, "r:xz") as tar:
        tar.extractall(root, filter="data")
    return root
