"""Training and inference speed of the gait models on this CPU, fp32 vs bf16, NCHW vs channels-last.

    .venv/bin/python benchmarks/bench_models.py [--quick] [--json OUT] [--models gaitset-compact frame-cnn]
        [--sizes 64x44 32x22] [--batch 32] [--frames 30] [--resnet9-batch 4] [--reps 3] [--malloc keep|default]

Models: `preset-compact` (what the demo and casia-b-cpu presets train: gaitset-compact with widths
16-32-64 and a 64-d embedding), then the registry defaults (gaitset-compact 32-64-128, frame-cnn,
resnet9). For each model x input size x memory format x precision:
- training: frames/s of one step (forward, part-wise cross-entropy over 74 identities, backward,
  SGD step) on a batch of `--batch` clips of `--frames` frames (ResNet-9 uses `--resnet9-batch`:
  it is a GPU model, ~7 TFLOP per step for 32 clips of 30 frames at 64x44);
- inference: sequences/s of a no-grad eval forward on the same batch;
- model FLOPs counted with torch.utils.flop_counter.FlopCounterMode (convolutions and matmuls,
  forward + backward for training), and the achieved FLOP rate as a fraction of this machine's
  dense matmul rate, measured here with a large fp32 and a large bf16 matmul.
Figures are medians over `--reps` timed runs after two warm-up runs. The machine may be shared:
the load average before and after is printed, variants are interleaved run by run so a burst of
outside load hits all of them alike, and process CPU time is reported beside wall time (frames
per CPU-second barely move when other processes take the cores; cpu% shows how busy we were).
`--malloc keep` (default) stops glibc from unmapping freed activations, see `keep_freed_memory`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from machine import print_machine_info  # noqa: E402

from gaitreid.config import load_config  # noqa: E402
from gaitreid.losses import PartCrossEntropyLoss  # noqa: E402
from gaitreid.models import ModelConfig, build_model  # noqa: E402
from gaitreid.training.runtime import keep_freed_memory  # noqa: E402

NUM_CLASSES = 74
PRECISIONS = ("fp32", "bf16")
FORMATS = ("nchw", "channels_last")
WARM_UPS = 2


def matmul_rate(dtype: torch.dtype, size: int, reps: int) -> tuple[float, float]:
    """Dense matmul FLOP/s for `size x size` operands, the machine's practical peak:
    (per wall second, per process CPU second); the median of `reps` runs after a warm-up."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=g).to(dtype)
    b = torch.randn(size, size, generator=g).to(dtype)
    a @ b
    wall, cpu = [], []
    for _ in range(reps):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        a @ b
        wall.append(time.perf_counter() - start_wall)
        cpu.append(time.process_time() - start_cpu)
    flops = 2 * size**3
    return flops / statistics.median(wall), flops / statistics.median(cpu)


def count_flops(cfg: ModelConfig, batch: int, frames: int) -> tuple[int, int]:
    """(training step FLOPs = forward + backward, inference FLOPs) for one batch."""
    model = build_model(cfg)
    loss_fn = PartCrossEntropyLoss(0.1)
    x = torch.rand(batch, frames, cfg.in_height, cfg.in_width)
    labels = torch.randint(0, NUM_CLASSES, (batch,))
    with FlopCounterMode(display=False) as counter:
        loss, _ = loss_fn(model(x)["logits"], labels)
        loss.backward()
    train = counter.get_total_flops()
    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    return train, counter.get_total_flops()


class Variant:
    """One model instance in one memory format and precision, ready to time."""

    def __init__(self, cfg: ModelConfig, fmt: str, precision: str, batch: int, frames: int):
        torch.manual_seed(0)
        self.model = build_model(cfg)
        if fmt == "channels_last":
            self.model.use_channels_last()
        self.bf16 = precision == "bf16"
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        self.loss_fn = PartCrossEntropyLoss(0.1)
        g = torch.Generator().manual_seed(1)
        self.x = torch.rand(batch, frames, cfg.in_height, cfg.in_width, generator=g)
        self.labels = torch.randint(0, NUM_CLASSES, (batch,), generator=g)

    def train_step(self) -> None:
        self.model.train()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            loss, _ = self.loss_fn(self.model(self.x)["logits"], self.labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()

    def infer(self) -> None:
        self.model.eval()
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            self.model(self.x)


def interleaved_medians(variants: dict, method: str, reps: int) -> dict[tuple, tuple[float, float]]:
    """(median wall seconds, median process CPU seconds) per variant; two warm-ups each (oneDNN
    builds its kernels and the heap grows to its peak over the first two steps), then
    `reps` rounds over all variants. CPU seconds do not grow when other processes take the
    cores, so wall / CPU shows how much the figures were disturbed."""
    for v in variants.values():
        for _ in range(WARM_UPS):
            getattr(v, method)()
    wall: dict = {k: [] for k in variants}
    cpu: dict = {k: [] for k in variants}
    for _ in range(reps):
        for key, v in variants.items():
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            getattr(v, method)()
            wall[key].append(time.perf_counter() - start_wall)
            cpu[key].append(time.process_time() - start_cpu)
    return {k: (statistics.median(wall[k]), statistics.median(cpu[k])) for k in variants}


PRESET_MODEL = "preset-compact"  # the model the demo and casia-b-cpu presets train


def model_config(name: str, h: int, w: int) -> ModelConfig:
    """A registry model at its default size, or `preset-compact`: the casia-b-cpu preset's model."""
    if name == PRESET_MODEL:
        return replace(load_config(preset="casia-b-cpu").model, in_height=h, in_width=w, num_classes=NUM_CLASSES)
    return ModelConfig(name=name, in_height=h, in_width=w, num_classes=NUM_CLASSES)


def bench_model(name: str, size: tuple[int, int], batch: int, frames: int, reps: int, peak: dict) -> list[dict]:
    h, w = size
    cfg = model_config(name, h, w)
    train_flops, infer_flops = count_flops(cfg, batch, frames)
    rows = []
    variants = {(f, p): Variant(cfg, f, p, batch, frames) for f in FORMATS for p in PRECISIONS}
    train = interleaved_medians(variants, "train_step", reps)
    infer = interleaved_medians(variants, "infer", reps)
    threads = torch.get_num_threads()
    for fmt, precision in variants:
        (t_train, cpu_train), (t_infer, cpu_infer) = train[(fmt, precision)], infer[(fmt, precision)]
        rows.append(
            {
                "model": name, "input": f"{h}x{w}", "format": fmt, "precision": precision,
                "batch": batch, "frames": frames,
                "train_s_per_step": t_train,
                "train_frames_per_s": batch * frames / t_train,
                "train_frames_per_cpu_s": batch * frames / cpu_train,
                "train_cpu_share": cpu_train / (t_train * threads),
                "train_gflop_per_step": train_flops / 1e9,
                # achieved FLOP rate over the dense matmul rate, both per CPU-second (robust to
                # other processes sharing the cores; equal to the wall-time ratio on an idle machine)
                "train_peak_fraction": train_flops / cpu_train / peak[precision][1],
                "infer_sequences_per_s": batch / t_infer,
                "infer_frames_per_s": batch * frames / t_infer,
                "infer_frames_per_cpu_s": batch * frames / cpu_infer,
                "infer_cpu_share": cpu_infer / (t_infer * threads),
                "infer_peak_fraction": infer_flops / cpu_infer / peak[precision][1],
            }
        )
    return rows


def print_rows(rows: list[dict], header: bool = True) -> None:
    """frames/s and sequences/s are wall-clock; cpu% is CPU time / (wall x threads): below ~90%
    other processes took the cores during the run and the wall figures are pessimistic."""
    if header:
        print(
            f"{'model':16} {'input':6} {'format':13} {'prec':5} {'batch':>7} {'train fr/s':>10} {'fr/cpu-s':>8} "
            f"{'cpu%':>5} {'GF/step':>8} {'%peak':>6} {'infer seq/s':>11} {'cpu%':>5} {'%peak':>6}"
        )
    for r in rows:
        print(
            f"{r['model']:16} {r['input']:6} {r['format']:13} {r['precision']:5} {r['batch']:>4}x{r['frames']:<2} "
            f"{r['train_frames_per_s']:10.1f} {r['train_frames_per_cpu_s']:8.1f} {100 * r['train_cpu_share']:4.0f}% "
            f"{r['train_gflop_per_step']:8.1f} {100 * r['train_peak_fraction']:5.1f}% "
            f"{r['infer_sequences_per_s']:11.1f} {100 * r['infer_cpu_share']:4.0f}% {100 * r['infer_peak_fraction']:5.1f}%",
            flush=True,
        )


RATIOS = (
    ("bf16/fp32 nchw", ("nchw", "bf16"), ("nchw", "fp32")),
    ("bf16/fp32 cl", ("channels_last", "bf16"), ("channels_last", "fp32")),
    ("cl/nchw fp32", ("channels_last", "fp32"), ("nchw", "fp32")),
    ("cl/nchw bf16", ("channels_last", "bf16"), ("nchw", "bf16")),
    ("cl+bf16 / nchw+fp32", ("channels_last", "bf16"), ("nchw", "fp32")),
)


def print_ratios(rows: list[dict]) -> None:
    """Side by side: bf16 over fp32 and channels-last over NCHW.

    Each cell: training wall (training CPU-time) | inference wall (inference CPU-time)."""
    by_key = {(r["model"], r["input"], r["format"], r["precision"]): r for r in rows}
    print("\nspeed-up ratios, each cell: train wall (train cpu-time) | infer wall (infer cpu-time)")
    print(f"  {'model':16} {'input':6} " + "".join(f"{label:>28}" for label, _, _ in RATIOS))
    for model, size in dict.fromkeys((r["model"], r["input"]) for r in rows):
        cells = []
        for _, a, b in RATIOS:
            ra, rb = by_key[(model, size, *a)], by_key[(model, size, *b)]
            cells.append(
                f"{ra['train_frames_per_s'] / rb['train_frames_per_s']:.2f} "
                f"({ra['train_frames_per_cpu_s'] / rb['train_frames_per_cpu_s']:.2f}) | "
                f"{ra['infer_sequences_per_s'] / rb['infer_sequences_per_s']:.2f} "
                f"({ra['infer_frames_per_cpu_s'] / rb['infer_frames_per_cpu_s']:.2f})"
            )
        print(f"  {model:16} {size:6} " + "".join(f"{c:>28}" for c in cells))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small batch, fewer runs, smaller matmul")
    parser.add_argument("--json", type=Path, help="also write the figures and machine info here")
    parser.add_argument("--models", nargs="+", default=[PRESET_MODEL, "gaitset-compact", "frame-cnn", "resnet9"],
                        help=f"registry names, or {PRESET_MODEL} (the presets' gaitset-compact 16-32-64, 64-d)")
    parser.add_argument("--sizes", nargs="+", default=["64x44", "32x22"])
    parser.add_argument("--batch", type=int, default=32, help="clips per batch (default 32; --quick 8)")
    parser.add_argument("--frames", type=int, default=30, help="frames per clip")
    parser.add_argument("--resnet9-batch", type=int, default=4, help="clips per batch for resnet9")
    parser.add_argument("--reps", type=int, default=3, help="timed runs per figure (median)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--malloc", choices=["keep", "default"], default="keep",
                        help="keep: glibc keeps freed memory (recommended for training); default: glibc as is")
    args = parser.parse_args()
    if args.quick:
        args.batch, args.resnet9_batch, args.reps = min(args.batch, 8), min(args.resnet9_batch, 2), min(args.reps, 2)
    torch.set_num_threads(args.threads)
    info = print_machine_info()
    info["malloc"] = args.malloc if args.malloc == "default" or keep_freed_memory() else "default (mallopt failed)"
    print(f"malloc: {info['malloc']}")
    info["load_average_before"] = os.getloadavg()
    print(f"load average before: {info['load_average_before']}")

    matmul_size = 1024 if args.quick else 2048
    peak = {
        "fp32": matmul_rate(torch.float32, matmul_size, 5),
        "bf16": matmul_rate(torch.bfloat16, matmul_size, 5),
    }
    for precision, (per_wall, per_cpu) in peak.items():
        print(f"dense matmul {matmul_size}^2 {precision}: {per_wall / 1e9:.1f} GFLOP/s wall, {per_cpu / 1e9:.1f} GFLOP per CPU-second")
    print(f"bf16/fp32 matmul rate (per CPU-second): {peak['bf16'][1] / peak['fp32'][1]:.2f}\n")

    rows = []
    for name in args.models:
        for size_text in args.sizes:
            h, w = (int(v) for v in size_text.lower().split("x"))
            batch = args.resnet9_batch if name == "resnet9" else args.batch
            new = bench_model(name, (h, w), batch, args.frames, args.reps, peak)
            print_rows(new, header=not rows)  # as they come: a long run shows progress
            rows.extend(new)
    print_ratios(rows)
    info["load_average_after"] = os.getloadavg()
    print(f"\nload average after: {info['load_average_after']}  (> cores means other processes shared the CPU)")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "matmul_flop_per_s_wall_cpu": peak, "rows": rows}, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
