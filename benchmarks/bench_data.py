"""Data layer speed: converting datasets into the sequence store, and reading clips back.

    .venv/bin/python benchmarks/bench_data.py [--quick] [--json OUT] [--casia-b /tmp/casia-b]

0. pretreatment alone: one subject's sequences in memory, cropped, resized, centred and cut.
1. pkl tree: the real CASIA-B subjects (OpenGait layout) -> store at 64x44 and 32x22, with
   1 worker process and with one per core (side by side). --quick: 8 subjects. About 10 minutes
   in full on 2 busy cores, 2 with --quick.
2. PNG trees made from 3 real subjects (--quick: 1): their 64x64 frames written as PNGs
   ("cropped"), and the same frames scaled x2 and pasted at an offset into 320x240 frames
   ("raw-style", so crop and resize really work). Conversion includes the PNG decoding.
3. Store reads: random 30-frame clips of random sequences (memory-map slices; page cache warm),
   and the same clips stacked into a [16, 30, H, W] float32 batch as a training loader would.

Conversion figures are frames read per second of wall time (scan + read + pretreat + write),
median of the runs. The training it must outpace runs at hundreds of frames/s; the ratio printed
is against 1,000 frames/s, the top of that range.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from machine import print_machine_info  # noqa: E402

from gaitreid.data.convert import DEFAULT_WORKERS, all_cores  # noqa: E402
from gaitreid.data.pretreat import PretreatConfig, pretreat_sequence  # noqa: E402
from gaitreid.data.safe_pickle import load_numpy_pickle  # noqa: E402
from gaitreid.data.store import SequenceStore, build_store  # noqa: E402

TRAINING_FRAMES_PER_S = 1000.0


def subset_tree(source: Path, subjects: list[str], into: Path) -> Path:
    """A tree of symlinks to some subjects of `source` (nothing copied)."""
    into.mkdir(parents=True)
    for subject in subjects:
        os.symlink(source / subject, into / subject)
    return into


def convert_once(root: Path, cfg: PretreatConfig, workers: int, cache: Path) -> tuple[float, SequenceStore]:
    shutil.rmtree(cache, ignore_errors=True)
    start = time.perf_counter()
    store = build_store(root, cfg, cache_root=cache, workers=workers, progress=False)
    return time.perf_counter() - start, store


def measure_conversion(label: str, root: Path, cfg: PretreatConfig, workers: int, runs: int, work: Path) -> dict:
    times, store = [], None
    for _ in range(runs):
        seconds, store = convert_once(root, cfg, workers, work / "cache")
        times.append(seconds)
    seconds = statistics.median(times)
    frames_read = store.manifest["conversion"]["frames_read"]
    result = {
        "what": label, "size": f"{cfg.height}x{cfg.width}", "workers": workers, "runs": runs,
        "sequences": len(store), "frames_read": frames_read, "seconds": round(seconds, 2),
        "frames_per_s": round(frames_read / seconds),
    }
    print(f"  {label:<34} {result['size']:>6} workers={workers}  {len(store):5d} seq  {frames_read:7d} frames  "
          f"{seconds:7.2f} s  {result['frames_per_s']:8d} frames/s  (median of {runs})")
    return result


def write_png_trees(source: Path, subjects: list[str], work: Path) -> tuple[Path, Path, int]:
    """Cropped (64x64) and raw-style (320x240) PNG trees from the real pkl frames of `subjects`."""
    cropped, raw = work / "png-cropped", work / "png-raw"
    frames_written = 0
    for pkl in sorted(p for s in subjects for p in (source / s).glob("*/*/*.pkl")):
        frames = load_numpy_pickle(pkl)
        subject, condition, view = pkl.parts[-4:-1]
        for tree in (cropped, raw):
            (tree / subject / condition / view).mkdir(parents=True, exist_ok=True)
        for i, frame in enumerate(frames):
            name = f"{subject}-{condition}-{view}-{i + 1:03d}.png"
            cv2.imwrite(str(cropped / subject / condition / view / name), frame)
            canvas = np.zeros((240, 320), np.uint8)
            canvas[40:168, 90 + (i % 40):218 + (i % 40)] = cv2.resize(frame, (128, 128), interpolation=cv2.INTER_LINEAR)
            cv2.imwrite(str(raw / subject / condition / view / name), canvas)
        frames_written += len(frames)
    return cropped, raw, frames_written


def measure_reads(store: SequenceStore, clips: int, runs: int, batch: int = 16, length: int = 30) -> dict:
    rng = np.random.default_rng(0)
    seqs = rng.integers(0, len(store), clips)
    slice_times, batch_times = [], []
    for _ in range(runs):
        start = time.perf_counter()
        checksum = 0
        for i in seqs:
            clip = store.clip(int(i), length, rng)
            checksum += int(clip[length // 2, 10, 10])  # touch the data so the page is really read
        slice_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        for first in range(0, clips, batch):
            stacked = np.stack([store.clip(int(i), length, rng) for i in seqs[first : first + batch]])
            _ = stacked.astype(np.float32) / 255.0  # [batch, length, H, W]
        batch_times.append(time.perf_counter() - start)
    slice_fps = clips * length / statistics.median(slice_times)
    batch_fps = clips * length / statistics.median(batch_times)
    h, w = store.frame_shape
    print(f"  random {length}-frame clips, {h}x{w}: slice {slice_fps:,.0f} frames/s "
          f"({slice_fps / length:,.0f} clips/s); batched float32 [{batch},{length},{h},{w}] {batch_fps:,.0f} frames/s "
          f"= {batch_fps / TRAINING_FRAMES_PER_S:,.0f}x a {TRAINING_FRAMES_PER_S:,.0f} frames/s trainer "
          f"(median of {runs} x {clips} clips)")
    return {"size": f"{h}x{w}", "clip_length": length, "clips": clips, "runs": runs,
            "slice_frames_per_s": round(slice_fps), "batch_frames_per_s": round(batch_fps),
            "batch_ratio_vs_1000_fps": round(batch_fps / TRAINING_FRAMES_PER_S)}


def measure_pretreatment(root: Path, subjects: list[str], cfg: PretreatConfig, runs: int) -> dict:
    """Pretreatment alone (crop, resize, centre, cut) on sequences already in memory, one thread."""
    sequences = [load_numpy_pickle(p) for s in subjects for p in sorted((root / s).glob("*/*/*.pkl"))]
    frames = sum(len(x) for x in sequences)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for raw in sequences:
            pretreat_sequence(raw, cfg)
        times.append(time.perf_counter() - start)
    fps = frames / statistics.median(times)
    h, w = sequences[0].shape[1:] if sequences else (0, 0)
    print(f"  pretreatment only, {h}x{w} -> {cfg.height}x{cfg.width}: {fps:,.0f} frames/s "
          f"({len(sequences)} sequences, {frames} frames in memory, 1 process, median of {runs})")
    return {"size": f"{cfg.height}x{cfg.width}", "source_size": f"{h}x{w}", "sequences": len(sequences),
            "frames": frames, "runs": runs, "frames_per_s": round(fps)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--casia-b", type=Path, default=Path(os.environ.get("GAITREID_CASIA_B_TREE", "/tmp/casia-b")),
                        help="unpacked CASIA-B pkl tree (default /tmp/casia-b)")
    parser.add_argument("--quick", action="store_true", help="fewer subjects and runs")
    parser.add_argument("--json", type=Path, help="write the figures to this JSON file")
    args = parser.parse_args()

    info = print_machine_info()
    info["opencv"] = cv2.__version__
    info["load_average_start"] = [round(x, 2) for x in os.getloadavg()]
    print(f"opencv={cv2.__version__}, conversion workers: default {DEFAULT_WORKERS}, compared with {all_cores()}; "
          f"load average at start {info['load_average_start']} (other jobs on the machine slow every figure)")
    if not args.casia_b.is_dir():
        print(f"CASIA-B tree not found at {args.casia_b}: unpack it with ../shared/datasets/casia-b/unpack.sh")
        return 1
    all_subjects = sorted(p.name for p in args.casia_b.iterdir() if p.is_dir() and p.name.isdigit())
    pkl_subjects = all_subjects[:8] if args.quick else all_subjects
    png_subjects = all_subjects[:1] if args.quick else all_subjects[:3]
    runs = 3  # median of 3 conversions: the machine is shared, single runs vary by +-30 %
    results: dict = {"machine": info, "quick": args.quick, "pretreatment": [], "conversion": [], "reads": []}
    many = all_cores()

    print(f"\npretreatment only ({png_subjects[0]}):")
    for cfg in (PretreatConfig(64, 44), PretreatConfig(32, 22)):
        results["pretreatment"].append(measure_pretreatment(args.casia_b, png_subjects[:1], cfg, runs))

    with tempfile.TemporaryDirectory(prefix="bench-data-") as tmp:
        work = Path(tmp)
        pkl_root = args.casia_b if len(pkl_subjects) == len(all_subjects) else subset_tree(args.casia_b, pkl_subjects, work / "subset")
        print(f"\nconversion, pkl tree ({len(pkl_subjects)} subjects, {pkl_root}):")
        for cfg in (PretreatConfig(64, 44), PretreatConfig(32, 22)):
            for workers in sorted({1, many}):
                results["conversion"].append(
                    measure_conversion(f"pkl {len(pkl_subjects)} subjects", pkl_root, cfg, workers, runs, work))
        big_store_dir = work / "store-64x44"
        _, store = convert_once(pkl_root, PretreatConfig(64, 44), DEFAULT_WORKERS, work / "cache")
        shutil.move(str(store.path), big_store_dir)

        start = time.perf_counter()
        cropped, raw, written = write_png_trees(args.casia_b, png_subjects, work)
        print(f"\nconversion, PNG trees ({len(png_subjects)} subjects, {written} frames each; "
              f"written in {time.perf_counter() - start:.1f} s):")
        for label, root in (("PNG cropped 64x64", cropped), ("PNG raw-style 320x240", raw)):
            for workers in sorted({1, many}):
                results["conversion"].append(
                    measure_conversion(label, root, PretreatConfig(64, 44), workers, runs, work))

        print("\nstore reads:")
        results["reads"].append(measure_reads(SequenceStore.open(big_store_dir), clips=2000, runs=5))
        _, small = convert_once(pkl_root, PretreatConfig(32, 22), DEFAULT_WORKERS, work / "cache")
        results["reads"].append(measure_reads(small, clips=2000, runs=5))

    info["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"\nload average at end {info['load_average_end']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
