"""Convert a scanned dataset: read and pretreat every sequence (in parallel), write a store.

`load_pretreated` is the per-sequence job (read, pretreat, check length); `iter_pretreated` runs
it over all sequences in worker processes, in a fixed order; `convert_scan` writes the results
into a `StoreWriter` and returns a `ConversionSummary` of what was found, kept and skipped.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from gaitreid.data.layout import SequenceKey
from gaitreid.data.pretreat import PretreatConfig, pretreat_sequence
from gaitreid.data.problems import NO_FOREGROUND, TOO_SHORT, Problem, count_kinds, report
from gaitreid.data.readers import read_sequence
from gaitreid.data.scan import ScanResult, SequenceSource
from gaitreid.data.store import StoreWriter
from gaitreid.errors import DataError

# Below this many sequences, starting worker processes costs more than it saves.
MIN_SEQUENCES_FOR_WORKERS = 64


@dataclass
class SequenceResult:
    key: SequenceKey
    frames: np.ndarray | None  # [T', height, width] uint8 pretreated; None when unusable
    frames_read: int
    problems: list[Problem]


@dataclass
class ConversionSummary:
    """What a conversion (or an inspection) found, kept and skipped."""

    sequences_found: int = 0
    sequences_usable: int = 0
    frames_read: int = 0
    frames_kept: int = 0
    problems: list[Problem] = field(default_factory=list)
    missing: list[SequenceKey] = field(default_factory=list)
    unusable: list[str] = field(default_factory=list)  # "KEY: reason" per skipped sequence

    def to_dict(self) -> dict:
        return {
            "sequences_found": self.sequences_found,
            "sequences_usable": self.sequences_usable,
            "frames_read": self.frames_read,
            "frames_kept": self.frames_kept,
            "frames_dropped": self.frames_read - self.frames_kept,
            "problem_counts": count_kinds(self.problems),
            "problems": [p.to_dict() for p in self.problems],
            "missing": [str(k) for k in self.missing],
            "unusable": self.unusable,
        }


def load_pretreated(source: SequenceSource, cfg: PretreatConfig) -> SequenceResult:
    """Read and pretreat one sequence; unusable ones come back with frames=None and a problem."""
    frames, problems = read_sequence(source)
    if len(frames) == 0:
        return SequenceResult(source.key, None, 0, problems)
    treated = pretreat_sequence(frames, cfg)
    if len(treated) == 0:
        problems.append(report(NO_FOREGROUND, source.folder, f"all {len(frames)} frames are black or nearly so (skipped)"))
        return SequenceResult(source.key, None, len(frames), problems)
    if len(treated) < cfg.min_frames:
        problems.append(report(
            TOO_SHORT, source.folder,
            f"only {len(treated)} usable frame(s) of {len(frames)}, fewer than min_frames={cfg.min_frames} (skipped)",
        ))
        return SequenceResult(source.key, None, len(frames), problems)
    return SequenceResult(source.key, treated, len(frames), problems)


def _worker_init() -> None:
    import cv2

    cv2.setNumThreads(1)


def _job_handing_off_by_file(args: tuple[int, SequenceSource, PretreatConfig, str]) -> tuple[SequenceResult, str | None, tuple]:
    """Worker side: the frames go back through a file in RAM (one small message instead of
    hundreds of KB of pickle through a pipe, which is slow when the cores are busy)."""
    number, source, cfg, handoff_dir = args
    result = load_pretreated(source, cfg)
    if result.frames is None:
        return result, None, ()
    path = os.path.join(handoff_dir, f"{number}.u8")
    result.frames.tofile(path)
    shape, result.frames = result.frames.shape, None
    return result, path, shape


def _take_handed_off(result: SequenceResult, path: str | None, shape: tuple) -> SequenceResult:
    if path is not None:
        result.frames = np.fromfile(path, dtype=np.uint8).reshape(shape)
        os.unlink(path)
    return result


def _handoff_parent() -> str | None:
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None


# Measured with benchmarks/bench_data.py on 2 shared, busy cores (median of 3): a second worker
# process never helped (pkl 31.1k -> 25.7k frames/s, raw PNG 922 -> 870 frames/s), so one
# process is the default; `workers=N` / `--workers N` uses more where cores are really free.
DEFAULT_WORKERS = 1


def all_cores() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def iter_pretreated(sources: list[SequenceSource], cfg: PretreatConfig, workers: int | None = None,
                    progress: bool = True, desc: str = "converting") -> Iterator[SequenceResult]:
    """Results in the order of `sources`; `workers` processes (None: DEFAULT_WORKERS)."""
    workers = DEFAULT_WORKERS if workers is None else max(1, workers)
    bar = tqdm(total=len(sources), desc=desc, unit="seq", disable=not progress or None, leave=False)
    try:
        if workers == 1 or len(sources) < MIN_SEQUENCES_FOR_WORKERS:
            for source in sources:
                yield load_pretreated(source, cfg)
                bar.update()
            return
        # fork where there is one: no re-import of the caller's __main__ (a script without a
        # main guard still works) and no start-up cost; workers only run numpy and cv2.
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        with tempfile.TemporaryDirectory(prefix="gaitreid-convert-", dir=_handoff_parent()) as handoff_dir, \
                multiprocessing.get_context(method).Pool(workers, initializer=_worker_init) as pool:
            jobs = [(number, source, cfg, handoff_dir) for number, source in enumerate(sources)]
            for handed in pool.imap(_job_handing_off_by_file, jobs, chunksize=4):
                yield _take_handed_off(*handed)
                bar.update()
    finally:
        bar.close()


def _reason(result: SequenceResult) -> str:
    return f"{result.key}: {result.problems[-1].message}" if result.problems else f"{result.key}: no frames"


def convert_scan(scan: ScanResult, cfg: PretreatConfig, writer: StoreWriter | None,
                 workers: int | None = None, progress: bool = True) -> ConversionSummary:
    """Pretreat every scanned sequence into `writer` (None: only inspect); DataError if none is usable."""
    summary = ConversionSummary(sequences_found=len(scan.sequences), problems=list(scan.problems),
                                missing=scan.missing_keys())
    desc = "converting" if writer is not None else "checking"
    for result in iter_pretreated(scan.sequences, cfg, workers, progress, desc):
        summary.problems.extend(result.problems)
        summary.frames_read += result.frames_read
        if result.frames is None:
            summary.unusable.append(_reason(result))
            continue
        summary.sequences_usable += 1
        summary.frames_kept += len(result.frames)
        if writer is not None:
            writer.add(result.key, result.frames)
    if summary.sequences_usable == 0:
        counts = ", ".join(f"{n} {kind}" for kind, n in count_kinds(summary.problems).items())
        # Name the first few offending files, so the error alone says where to look.
        details = [str(problem) for problem in summary.problems] or [str(reason) for reason in summary.unusable]
        more = f"; ... {len(details) - 3} more" if len(details) > 3 else ""
        raise DataError(f"{scan.root}: no usable sequence among {summary.sequences_found} found ({counts}): "
                        + "; ".join(details[:3]) + more)
    return summary
