"""Synthetic data generation speed: frames per second, serial and with worker processes.

Generates a small labelled dataset into a temporary store (the full path: render, noise,
pretreatment, store write) `--repeats` times per worker count and prints the median frames/s,
plus frames per CPU-second (robust when other jobs share the cores: wall time is not) and the
projected wall time for a demo-sized dataset.

    .venv/bin/python benchmarks/bench_synth.py [--subjects 4] [--workers 1 2] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import print_machine_info  # noqa: E402

from gaitreid.synth import RenderConfig, SynthConfig, write_dataset  # noqa: E402


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the worker pool)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=4, help="subjects per run (x 110 sequences)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--height", type=int, default=64)
    parser.add_argument("--width", type=int, default=44)
    parser.add_argument("--raw-height", type=int, default=RenderConfig.raw_height)
    parser.add_argument("--frames", type=int, nargs=2, default=list(RenderConfig.frames))
    parser.add_argument("--demo-subjects", type=int, default=50, help="project the time for this many subjects")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()

    info = print_machine_info()
    render = replace(RenderConfig(), raw_height=args.raw_height, frames=tuple(args.frames))
    cfg = SynthConfig(subjects=args.subjects, seed=0, height=args.height, width=args.width, render=render)
    print(f"dataset: {args.subjects} subjects x 110 sequences, {args.frames[0]}-{args.frames[1]} frames each, "
          f"raw height {args.raw_height}, output {args.height}x{args.width}, format store")
    results = {}
    for workers in args.workers:
        rates, cpu_rates, frames = [], [], 0
        for _ in range(args.repeats):
            cpu_start = cpu_seconds()
            with tempfile.TemporaryDirectory(prefix="bench-synth-") as tmp:
                summary = write_dataset(Path(tmp) / "store", cfg, fmt="store", workers=workers)
            rates.append(summary["frames_per_s"])
            cpu_rates.append(summary["frames"] / max(cpu_seconds() - cpu_start, 1e-9))
            frames = summary["frames"]
        median = statistics.median(rates)
        cpu_median = statistics.median(cpu_rates)
        demo_frames = frames / args.subjects * args.demo_subjects
        results[str(workers)] = {"frames_per_s_median": median, "runs": rates, "frames": frames,
                                 "frames_per_cpu_s_median": cpu_median,
                                 "projected_demo_seconds": demo_frames / median}
        print(f"workers={workers}: median {median:8.0f} frames/s wall over {args.repeats} runs "
              f"({', '.join(f'{r:.0f}' for r in rates)}), {cpu_median:.0f} frames per CPU-second; "
              f"{args.demo_subjects} subjects ({demo_frames:.0f} frames) would take ~{demo_frames / median:.0f} s wall")
    if len(args.workers) > 1:
        base = results[str(args.workers[0])]["frames_per_s_median"]
        for w in args.workers[1:]:
            ratio = results[str(w)]["frames_per_s_median"] / base
            print(f"speed-up workers={w} vs workers={args.workers[0]}: x{ratio:.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        out = {"machine": info, "benchmark": "synth", "config": cfg.to_dict(), "results": results}
        args.json.write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
