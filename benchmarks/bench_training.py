"""Training speed: frames/s of one optimiser step (forward + backward + AdamW) per model and input
size, fp32 and bf16 autocast, and that rate as a fraction of the machine's dense matmul FLOP rate.

    .venv/bin/python benchmarks/bench_training.py            # all cases, ~3 minutes on 2 idle cores
    .venv/bin/python benchmarks/bench_training.py --quick    # fewer repeats, two cases
    .venv/bin/python benchmarks/bench_training.py --json out.json

FLOPs per frame are counted by `torch.utils.flop_counter` (convolutions and matmuls, forward and
backward); the matmul peak is a 2048^3 matmul (fp32 and bf16) on the same threads. Times are medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import print_machine_info  # noqa: E402

from gaitreid.models import ModelConfig, build_model  # noqa: E402

CASES = [
    # (label, model config overrides, clips per batch)
    ("demo: gaitset-compact 16-32-64, 32x22", dict(name="gaitset-compact", widths=(16, 32, 64), bins=(1, 2, 4, 8), embedding_dim=64, in_height=32, in_width=22), 32),
    ("gaitset-compact 32-64-128, 32x22", dict(name="gaitset-compact", in_height=32, in_width=22), 32),
    ("gaitset-compact 32-64-128, 64x44", dict(name="gaitset-compact", in_height=64, in_width=44), 16),
    ("resnet9 64-128-256-512, 64x44", dict(name="resnet9", in_height=64, in_width=44), 8),
    ("frame-cnn 32-64-128, 32x22", dict(name="frame-cnn", in_height=32, in_width=22), 32),
]
CLIP = 30


def matmul_gflops(dtype: torch.dtype, repeats: int) -> float:
    a = torch.randn(2048, 2048).to(dtype)
    b = torch.randn(2048, 2048).to(dtype)
    a @ b
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * 2048**3 / statistics.median(times) / 1e9


def flops_per_frame(cfg: ModelConfig) -> float:
    model = build_model(cfg)
    x = torch.rand(2, CLIP, cfg.in_height, cfg.in_width)
    with FlopCounterMode(display=False) as counter:
        model(x)["logits"].float().sum().backward()
    return counter.get_total_flops() / (2 * CLIP)


def step_seconds(cfg: ModelConfig, clips: int, bf16: bool, repeats: int) -> float:
    model = build_model(cfg).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.rand(clips, CLIP, cfg.in_height, cfg.in_width)
    times = []
    for i in range(repeats + 1):
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(x)
        out["logits"].float().mean().backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i:  # the first step warms up oneDNN kernels
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    info = print_machine_info()
    repeats = 2 if args.quick else 4
    peak = {"fp32": matmul_gflops(torch.float32, 5), "bf16": matmul_gflops(torch.bfloat16, 5)}
    print(f"dense matmul 2048^3: fp32 {peak['fp32']:.0f} GFLOP/s, bf16 {peak['bf16']:.0f} GFLOP/s")
    rows = []
    for label, overrides, clips in CASES[:2] if args.quick else CASES:
        cfg = ModelConfig(num_classes=74, **overrides)
        flops = flops_per_frame(cfg)
        for precision in ("fp32", "bf16"):
            seconds = step_seconds(cfg, clips, precision == "bf16", repeats)
            fps = clips * CLIP / seconds
            achieved = fps * flops / 1e9
            rows.append({"case": label, "precision": precision, "clips": clips, "frames_per_s": round(fps, 1),
                         "mflop_per_frame": round(flops / 1e6, 1), "gflop_per_s": round(achieved, 1),
                         "fraction_of_matmul_peak": round(achieved / peak[precision], 3)})
            print(f"{label:42s} {precision}: {fps:8.0f} frames/s  {flops / 1e6:7.1f} MFLOP/frame  "
                  f"{achieved:6.1f} GFLOP/s = {100 * achieved / peak[precision]:5.1f}% of {precision} matmul peak", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "matmul_gflops": peak, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
