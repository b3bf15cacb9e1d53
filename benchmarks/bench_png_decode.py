"""PNG decode speed on CASIA-B-sized silhouette frames: OpenCV vs Pillow (when Pillow is importable).

    .venv/bin/python benchmarks/bench_png_decode.py [--pillow-path DIR] [--json OUT]

Pillow is not a dependency; to compare, put it beside the venv without installing it there:
    .venv/bin/pip install --target /tmp/pillow-bench pillow==13.0.0

Frames: real silhouettes from /tmp/casia-b when present (else synthetic ellipses), written as
8-bit grayscale PNGs at 64x64 (cropped frames) and 320x240 (raw frames, person pasted at an
offset). Each decoder reads the same bytes from memory (no disk); figures are the median of 5 runs.
"""

from __future__ import annotations

import argparse
import glob
import json
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import print_machine_info  # noqa: E402


def sample_frames(n: int) -> np.ndarray:
    files = sorted(glob.glob("/tmp/casia-b/00[1-3]/nm-01/*/*.pkl"))
    if files:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
        from gaitreid.data.safe_pickle import load_numpy_pickle

        frames = np.concatenate([load_numpy_pickle(f) for f in files])
        return frames[np.linspace(0, len(frames) - 1, n).astype(int)]
    frames = np.zeros((n, 64, 64), np.uint8)
    for i in range(n):
        cv2.ellipse(frames[i], (32, 32), (10 + i % 6, 31), 0, 0, 360, 255, -1)
    return frames


def encode_all(frames: np.ndarray, raw: bool) -> list[bytes]:
    out = []
    for f in frames:
        if raw:  # the person, scaled to 128 rows, pasted into a raw-sized frame at an offset
            canvas = np.zeros((240, 320), np.uint8)
            canvas[60:188, 100:228] = cv2.resize(f, (128, 128), interpolation=cv2.INTER_LINEAR)
            f = canvas
        ok, buf = cv2.imencode(".png", f)
        out.append(buf.tobytes())
    return out


def time_decoder(decode, blobs: list[bytes], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for blob in blobs:
            decode(blob)
        times.append(time.perf_counter() - start)
    return len(blobs) / statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pillow-path", default="/tmp/pillow-bench", help="extra sys.path entry holding Pillow")
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument("--json", help="write the figures to this JSON file")
    args = parser.parse_args()
    info = print_machine_info()
    cv2.setNumThreads(1)
    decoders = {"opencv " + cv2.__version__: lambda b: cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_GRAYSCALE)}
    sys.path.append(args.pillow_path)
    try:
        import io

        import PIL
        from PIL import Image

        decoders["pillow " + PIL.__version__] = lambda b: np.asarray(Image.open(io.BytesIO(b)).convert("L"))
    except ImportError:
        print("Pillow not importable: measuring OpenCV only")
    frames = sample_frames(args.frames)
    results = {}
    for label, raw in (("64x64", False), ("320x240", True)):
        blobs = encode_all(frames, raw)
        reference = decoders[next(iter(decoders))](blobs[0])
        for name, decode in decoders.items():
            assert np.array_equal(decode(blobs[0]), reference), name
            fps = time_decoder(decode, blobs)
            results[f"{name} {label}"] = fps
            print(f"{label:8s} {name:16s} {fps:10.0f} frames/s (median of 5, {len(blobs)} frames, 1 thread)")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "png_decode_frames_per_s": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
