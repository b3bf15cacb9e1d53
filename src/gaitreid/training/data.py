"""The data side of training: which store, which subjects train, which validate, and clip batches.

Training only ever sees the split's training subjects; validation subjects are labelled held-out
subjects used for the rank-1 monitor (never the test subjects of the evaluation).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gaitreid.config import DataConfig
from gaitreid.errors import ConfigError, DataError

log = logging.getLogger(__name__)


def prepare_store(data: DataConfig, source: str | None = None):
    """Open (building once, cached) the sequence store the config names.

    `data.source == "synthetic"` generates the synthetic dataset into the cache; an existing store
    directory is opened as it is; anything else is a dataset root converted (once, cached) with
    `gaitreid.data.store.build_store`. `source` overrides the config.
    """
    from gaitreid.data.pretreat import PretreatConfig

    source = source or data.source
    if not source:
        raise DataError("no dataset given: pass --data PATH (a CASIA-B style root SUBJECT/COND/VIEW) or set data.source")
    pretreat = PretreatConfig(height=data.height, width=data.width)
    if source == "synthetic":
        from gaitreid.training.synthetic import synthetic_store

        return synthetic_store(data, pretreat)
    from gaitreid.data.store import SequenceStore, build_store, is_store

    if is_store(source):
        store = SequenceStore.open(source)
        if tuple(store.frame_shape) != (data.height, data.width):
            raise DataError(f"store {source} holds {store.frame_shape[0]}x{store.frame_shape[1]} frames, the config wants {data.height}x{data.width}")
        return store
    if not Path(source).exists():
        raise DataError(f"dataset root {source} does not exist (set data.source or pass --data)")
    return build_store(source, pretreat=pretreat, cache_root=data.cache_root)


@dataclass
class SubjectSplit:
    train: list[str]
    validation: list[str]
    test: list[str]


def resolve_split(data: DataConfig, store) -> SubjectSplit:
    """Training, validation and test subjects of `data.split` among the subjects the store holds.

    Only `train` is ever sampled for training. `validation` follows `data.validation`: none, a
    hold-out of the last training subjects, or the split's test subjects (development splits).
    """
    from gaitreid.evaluation.splits import load_split

    split = load_split(data.split)
    available = store.subjects
    train = split.train_subjects_in(available)
    test = split.test_subjects_in(available)
    validation: list[str] = []
    if data.validation == "holdout":
        n_val = max(1, int(round(data.val_fraction * len(train))))
        if len(train) - n_val < 2:
            raise DataError(f"split '{data.split}': {len(train)} training subjects in {store.path} are too few to hold out {n_val}")
        train, validation = train[:-n_val], train[-n_val:]
    elif data.validation == "split-test":
        validation = list(test)
    if len(train) < 2:
        raise DataError(
            f"split '{data.split}': only {len(train)} of its training subjects are in the store {store.path} "
            f"(it holds {len(available)} subjects)"
        )
    return SubjectSplit(train=train, validation=validation, test=test)


class ClipBatcher:
    """Random fixed-length clips of store sequences, stacked into a uint8 tensor [n, s, h, w].

    Clips stay uint8 until the phase converts them (x / 255 in float) just before augmenting.
    """

    def __init__(self, store, clip_length: int):
        self.store = store
        self.clip_length = int(clip_length)

    def clips(self, indices: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        batch = np.stack([self.store.clip(int(i), self.clip_length, rng) for i in indices])  # [n, s, h, w]
        return torch.from_numpy(batch)


def prepare_store_once(data: DataConfig, runtime, source: str | None = None):
    """`prepare_store` where rank 0 builds the cache first and the other ranks then open it."""
    import torch.distributed as dist

    if not runtime.distributed:
        return prepare_store(data, source)
    store = prepare_store(data, source) if runtime.is_main else None
    dist.barrier()
    return store if store is not None else prepare_store(data, source)
