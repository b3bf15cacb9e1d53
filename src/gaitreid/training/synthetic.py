"""The synthetic dataset as a training store: generated once into the cache, reused afterwards."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from gaitreid.config import DataConfig, to_plain

log = logging.getLogger(__name__)


def synthetic_store(data: DataConfig, pretreat):
    """Open the cached synthetic store for `data.synthetic` at the pretreat size, generating it if absent."""
    from gaitreid.data.store import SequenceStore, is_store
    from gaitreid.synth import RenderConfig, SynthConfig, write_dataset

    spec = data.synthetic
    lo, hi = (spec.frames + spec.frames)[:2] if len(spec.frames) == 1 else spec.frames[:2]
    cfg = SynthConfig(
        subjects=spec.subjects,
        seed=spec.seed,
        height=pretreat.height,
        width=pretreat.width,
        render=RenderConfig(raw_height=spec.raw_height, frames=(int(lo), int(hi))),
    )
    key = hashlib.sha256(json.dumps(to_plain(cfg.to_dict()), sort_keys=True).encode()).hexdigest()[:12]
    path = Path(data.cache_root) / f"synthetic-{spec.subjects}s-{pretreat.height}x{pretreat.width}-{key}"
    if is_store(path):
        return SequenceStore.open(path)
    log.info("generating the synthetic dataset (%d subjects, %dx%d) into %s", spec.subjects, pretreat.height, pretreat.width, path)
    summary = write_dataset(path, cfg, fmt="store", workers=max(1, spec.workers), progress=True)
    log.info("generated %d sequences, %d frames in %.1f s", summary["sequences"], summary["frames"], summary["seconds"])
    return SequenceStore.open(path)
