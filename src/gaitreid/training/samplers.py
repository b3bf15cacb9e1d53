"""Which sequences make up each training step: stateless samplers, DDP-aware, resumable by step.

A sampler answers `batch(step) -> indices` from (seed, epoch, rank) alone, so resuming at step k
needs no saved sampler state, and every rank draws its own disjoint share of each epoch.

- `SequenceSampler` (SSL): each epoch is a permutation of the training sequences; rank r of w
  takes positions r, r+w, r+2w, ...; a step takes the next `batch_size` of the rank's share.
- `IdentityBalancedSampler` (P x K): each epoch is a permutation of the training identities;
  each step gives each rank P identities of its own, and K sequences of each identity (drawn
  without replacement when the identity has at least K, with replacement otherwise).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np


def step_rng(seed: int, *parts: int) -> np.random.Generator:
    """A generator determined by the seed and the given integers (epoch, step, rank...)."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, *[int(p) for p in parts]])


class SequenceSampler:
    """Random sequences for self-supervised steps: `batch_size` per rank per step."""

    def __init__(self, indices: np.ndarray, batch_size: int, seed: int = 0, rank: int = 0, world_size: int = 1):
        self.indices = np.asarray(indices, dtype=np.int64)
        self.batch_size = int(batch_size)
        self.seed, self.rank, self.world_size = int(seed), int(rank), int(world_size)
        share = len(self.indices) // self.world_size
        if share < self.batch_size:
            raise ValueError(
                f"{len(self.indices)} training sequences over {self.world_size} rank(s) give {share} per rank, "
                f"fewer than the batch of {self.batch_size}"
            )
        self.steps_per_epoch = share // self.batch_size

    def epoch_share(self, epoch: int) -> np.ndarray:
        perm = step_rng(self.seed, 1, epoch).permutation(len(self.indices))
        usable = (len(perm) // self.world_size) * self.world_size
        return self.indices[perm[:usable][self.rank :: self.world_size]]

    def batch(self, step: int) -> np.ndarray:
        epoch, pos = divmod(int(step), self.steps_per_epoch)
        share = self.epoch_share(epoch)
        return share[pos * self.batch_size : (pos + 1) * self.batch_size]


class IdentityBalancedSampler:
    """P identities x K sequences per rank per step; labels are identity positions 0..n_ids-1."""

    def __init__(self, indices: np.ndarray, labels: np.ndarray, p: int, k: int, seed: int = 0, rank: int = 0, world_size: int = 1):
        self.indices = np.asarray(indices, dtype=np.int64)
        self.labels = np.asarray(labels, dtype=np.int64)
        if len(self.indices) != len(self.labels):
            raise ValueError("indices and labels differ in length")
        self.p, self.k = int(p), int(k)
        self.seed, self.rank, self.world_size = int(seed), int(rank), int(world_size)
        by_label: dict[int, list[int]] = defaultdict(list)
        for idx, lab in zip(self.indices, self.labels):
            by_label[int(lab)].append(int(idx))
        self.identities = np.array(sorted(by_label), dtype=np.int64)
        self.members = {lab: np.array(v, dtype=np.int64) for lab, v in by_label.items()}
        per_step = self.p * self.world_size
        if len(self.identities) < per_step:
            raise ValueError(
                f"{len(self.identities)} training identities cannot fill P={self.p} per rank on {self.world_size} rank(s)"
            )
        self.steps_per_epoch = len(self.identities) // per_step

    def batch_with_labels(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """(sequence indices [P*K], identity labels [P*K]) for this rank at `step`."""
        epoch, pos = divmod(int(step), self.steps_per_epoch)
        order = self.identities[step_rng(self.seed, 2, epoch).permutation(len(self.identities))]
        first = (pos * self.world_size + self.rank) * self.p
        chosen = order[first : first + self.p]
        rng = step_rng(self.seed, 3, step, self.rank)
        seqs, labs = [], []
        for lab in chosen:
            pool = self.members[int(lab)]
            pick = rng.choice(pool, size=self.k, replace=len(pool) < self.k)
            seqs.append(pick)
            labs.append(np.full(self.k, lab, dtype=np.int64))
        return np.concatenate(seqs), np.concatenate(labs)

    def batch(self, step: int) -> np.ndarray:
        return self.batch_with_labels(step)[0]
