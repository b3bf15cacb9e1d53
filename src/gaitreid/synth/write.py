"""Write a generated dataset: into a sequence store, an OpenGait pkl tree or a CASIA-B PNG tree.

pkl and PNG trees get a `synth.json` at their root recording the generator options, so a tree
says how it was made (the store keeps the same in its manifest).
"""

from __future__ import annotations

import json
import pickle
import shutil
import time
from pathlib import Path

import cv2
import numpy as np

from gaitreid.data.store import StoreWriter, is_store
from gaitreid.errors import ConfigError
from gaitreid.synth.dataset import FORMATS, MANIFEST_NAME, SynthConfig, generate, plan_jobs



def _describe(cfg: SynthConfig, fmt: str) -> dict:
    return {"generator": "gaitreid.synth", "format": fmt, "synth": cfg.to_dict()}


def _check_target(out: Path, fmt: str, overwrite: bool) -> None:
    """Never write into, or delete, a folder that holds something else."""
    if not out.exists():
        return
    if not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a directory")
    if not any(out.iterdir()):
        return
    if not overwrite:
        raise ConfigError(f"{out}: exists and is not empty (pass --overwrite to replace it)")
    ours = is_store(out) if fmt == "store" else (out / MANIFEST_NAME).is_file()
    if not ours:
        raise ConfigError(f"{out}: not a synthetic {fmt} dataset made by `gaitreid synth`; refusing to replace it")


def write_dataset(out: str | Path, cfg: SynthConfig, fmt: str = "store", workers: int = 1,
                  overwrite: bool = False, progress: bool = False) -> dict:
    """Generate and write; returns a summary (sequences, frames, seconds, frames_per_s)."""
    out = Path(out)
    if fmt not in FORMATS:
        raise ConfigError(f"synth: unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    _check_target(out, fmt, overwrite)
    total = len(plan_jobs(cfg))
    stream = generate(cfg, fmt, workers)
    if progress:
        from tqdm import tqdm

        stream = tqdm(stream, total=total, unit="seq", desc="synth")
    start = time.perf_counter()
    frames_written = 0
    if fmt == "store":
        with StoreWriter(out, cfg.pretreat, source=f"synth:seed={cfg.seed}", extra=_describe(cfg, fmt)) as writer:
            for key, frames in stream:
                writer.add(key, frames)
                frames_written += len(frames)
    else:
        if out.exists() and overwrite and (out / MANIFEST_NAME).is_file():
            shutil.rmtree(out)
        out.mkdir(parents=True, exist_ok=True)
        for key, frames in stream:
            folder = out / key.subject / key.condition / key.view
            folder.mkdir(parents=True, exist_ok=True)
            if fmt == "pkl":
                (folder / f"{key.view}.pkl").write_bytes(pickle.dumps(np.ascontiguousarray(frames), protocol=4))
            else:
                stem = f"{key.subject}-{key.condition}-{key.view}"
                for i, frame in enumerate(frames, start=1):
                    ok, png = cv2.imencode(".png", frame, [cv2.IMWRITE_PNG_COMPRESSION, 1])
                    if not ok:
                        raise RuntimeError(f"PNG encoding failed for {folder}")
                    (folder / f"{stem}-{i:03d}.png").write_bytes(png.tobytes())
            frames_written += len(frames)
        (out / MANIFEST_NAME).write_text(json.dumps(_describe(cfg, fmt), indent=2) + "\n")
    seconds = time.perf_counter() - start
    return {"sequences": total, "frames": frames_written, "seconds": seconds,
            "frames_per_s": frames_written / max(seconds, 1e-9)}

