"""PyTorch vs onnxruntime on CPU: latency of embedding one 30-frame sequence, side by side.

    .venv/bin/python benchmarks/bench_export.py                        # default model, random weights
    .venv/bin/python benchmarks/bench_export.py --checkpoint runs/demo # a trained one (same cost)
    .venv/bin/python benchmarks/bench_export.py --quick --json out.json

Both runtimes get the same thread count (--threads, default: all cores) and the same input;
runs alternate (PyTorch, onnxruntime, PyTorch, ...) so a busy machine slows both alike.
Reports medians, the ratio PyTorch / onnxruntime (> 1: onnxruntime faster), and the largest
difference between the two embeddings.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import print_machine_info  # noqa: E402

from gaitreid.data.pretreat import PretreatConfig  # noqa: E402
from gaitreid.export.onnx import OnnxEmbedder, export_onnx  # noqa: E402
from gaitreid.inference import Embedder  # noqa: E402
from gaitreid.models import ModelConfig, build_model  # noqa: E402


def load_embedder(checkpoint: str | None, model_name: str) -> Embedder:
    if checkpoint:
        return Embedder.from_checkpoint(checkpoint)
    cfg = ModelConfig(name=model_name)
    torch.manual_seed(0)
    return Embedder(build_model(cfg), cfg, PretreatConfig(height=cfg.in_height, width=cfg.in_width), "random-weights")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="run/phase/checkpoint directory (default: random weights)")
    parser.add_argument("--model", default="gaitset-compact", help="architecture when no checkpoint is given")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--quick", action="store_true", help="10 repeats")
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args()
    if args.quick:
        args.repeats = 10
    torch.set_num_threads(args.threads)
    info = print_machine_info()
    import onnxruntime

    info["onnxruntime"] = onnxruntime.__version__
    embedder = load_embedder(args.checkpoint, args.model)
    height, width = embedder.frame_shape
    rng = np.random.default_rng(0)
    frames = (rng.random((args.frames, height, width)) > 0.6).astype(np.uint8) * 255  # [s, h, w]

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        path = export_onnx(embedder, Path(tmp) / "model.onnx")
        export_s = time.perf_counter() - start
        runtime = OnnxEmbedder(path, threads=args.threads)
        size_mib = path.stat().st_size / 2**20
        for _ in range(3):  # warm-up: allocator, kernels, onnxruntime's graph optimisation
            embedder.embed(frames)
            runtime.embed(frames)
        torch_times, ort_times = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            expected = embedder.embed(frames)
            t1 = time.perf_counter()
            got = runtime.embed(frames)
            t2 = time.perf_counter()
            torch_times.append(t1 - t0)
            ort_times.append(t2 - t1)
    torch_ms = 1000 * statistics.median(torch_times)
    ort_ms = 1000 * statistics.median(ort_times)
    diff = float(np.abs(got - expected).max() / max(np.abs(expected).max(), 1e-12))
    result = {
        "model": embedder.model_config.name if embedder.model_config else args.model,
        "checkpoint": args.checkpoint or "random weights",
        "input": [1, args.frames, height, width],
        "embedding": list(expected.shape),
        "threads": args.threads,
        "repeats": args.repeats,
        "pytorch_ms": round(torch_ms, 2),
        "onnxruntime_ms": round(ort_ms, 2),
        "ratio_pytorch_over_onnxruntime": round(torch_ms / ort_ms, 2),
        "pytorch_ms_min": round(1000 * min(torch_times), 2),
        "onnxruntime_ms_min": round(1000 * min(ort_times), 2),
        "max_relative_difference": diff,
        "export_s": round(export_s, 2),
        "onnx_mib": round(size_mib, 2),
    }
    print(f"model {result['model']} ({result['checkpoint']}), one sequence {result['input']} -> {result['embedding']}, "
          f"{args.threads} threads, {args.repeats} alternating runs")
    print(f"{'':14}{'median ms':>10}{'min ms':>9}")
    print(f"{'PyTorch':14}{torch_ms:>10.2f}{result['pytorch_ms_min']:>9.2f}")
    print(f"{'onnxruntime':14}{ort_ms:>10.2f}{result['onnxruntime_ms_min']:>9.2f}")
    print(f"ratio PyTorch/onnxruntime {result['ratio_pytorch_over_onnxruntime']:.2f}; "
          f"max relative difference {diff:.1e}; export {export_s:.1f} s, {size_mib:.1f} MiB")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "result": result}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
