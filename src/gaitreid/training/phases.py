"""The three training phases as small objects: how a step's batch is drawn, which head, which loss.

The one loop in `trainer.py` asks a phase for:
    sampler(...)                  which sequences each step uses (DDP-aware, from seed + step)
    batch(step, rng)              the step's tensors: float clips [n, s, h, w], augmented (+ labels)
    head(model)                   a training-only module after the model (SSL projection) or None
    prepare_model(model)          once: e.g. switch off parameters the loss never reaches
    loss(outputs, batch)          (scalar loss, stats) from the network's outputs
    before_step(model, step)      per-step model changes (freezing early layers for a while)

Phase 1 `SSLPhase`: two clips per sequence, augmented independently, projection MLP, NT-Xent.
Phase 2 `SupervisedPhase`: P x K clips with identity labels, part-wise CE with label smoothing.
Phase 3 `HybridPhase`: the same batch, CE + lambda x triplet on the (pre-BN) embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from gaitreid.config import HybridPhaseConfig, PhaseConfig, SSLPhaseConfig, SupervisedPhaseConfig
from gaitreid.training.data import ClipBatcher
from gaitreid.training.samplers import IdentityBalancedSampler, SequenceSampler


@dataclass
class Batch:
    clips: torch.Tensor  # float [n, s, h, w] in [0, 1]; SSL: both views stacked [2n, s, h, w]
    labels: torch.Tensor | None = None  # [n] identity positions (supervised phases)

    @property
    def frames(self) -> int:
        return int(self.clips.shape[0] * self.clips.shape[1])


def build_augment(kind: str):
    """The models package's silhouette augmentation: "strong" (SimCLR views), "light", or "none"."""
    if kind == "none":
        return None
    from gaitreid.data.augment import SimCLRAugment, TrainAugment

    return SimCLRAugment() if kind == "strong" else TrainAugment()


def to_float_clips(clips: torch.Tensor, augment, rng: np.random.Generator) -> torch.Tensor:
    """uint8 [n, s, h, w] -> float in [0, 1], augmented with a generator drawn from the step's rng."""
    x = clips.float().div_(255.0)
    if augment is None:
        return x
    generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
    return augment(x, generator)


class Phase:
    """What all phases share; subclasses fill in batch, head and loss."""

    name = "phase"
    uses_labels = False

    def __init__(self, cfg: PhaseConfig, batcher: ClipBatcher):
        self.cfg = cfg
        self.batcher = batcher
        self.sampler = None

    def make_sampler(self, indices: np.ndarray, labels: np.ndarray, seed: int, rank: int, world_size: int):
        raise NotImplementedError

    def batch(self, step: int, rng: np.random.Generator) -> Batch:
        raise NotImplementedError

    def head(self, model: nn.Module) -> nn.Module | None:
        return None

    def prepare_model(self, model: nn.Module) -> None:
        """Once, before training: e.g. switch off parameters the phase's loss never reaches."""

    def loss(self, outputs: dict[str, torch.Tensor], batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    def before_step(self, model: nn.Module, step: int) -> None:
        pass

    def needs_unused_parameter_search(self) -> bool:
        """DDP must tolerate parameters without gradients (frozen stages) in some steps."""
        return False


class SSLPhase(Phase):
    """SimCLR: N sequences -> 2N augmented clips -> projections -> NT-Xent (negatives from all ranks)."""

    name = "ssl"

    def __init__(self, cfg: SSLPhaseConfig, batcher: ClipBatcher):
        super().__init__(cfg, batcher)
        from gaitreid.losses import NTXentLoss

        self.criterion = NTXentLoss(temperature=cfg.temperature)
        self.augment = build_augment(cfg.augment)

    def make_sampler(self, indices, labels, seed, rank, world_size):
        self.sampler = SequenceSampler(indices, self.cfg.batch_sequences, seed=seed, rank=rank, world_size=world_size)
        return self.sampler

    def batch(self, step, rng):
        chosen = self.sampler.batch(step)
        view1 = to_float_clips(self.batcher.clips(chosen, rng), self.augment, rng)  # [n, s, h, w]
        view2 = to_float_clips(self.batcher.clips(chosen, rng), self.augment, rng)  # other clips, own augmentation
        return Batch(clips=torch.cat([view1, view2]))  # [2n, s, h, w]

    def head(self, model):
        from gaitreid.models import ProjectionHead

        in_dim = model.embedding_dim * model.num_parts
        return ProjectionHead(in_dim, self.cfg.projection_hidden, self.cfg.projection_dim)

    def prepare_model(self, model):
        # NT-Xent sees the pre-BN embeddings through the projection head: the BN neck gets no
        # gradient here (DDP requires every trainable parameter to get one)
        for param in model.neck.parameters():
            param.requires_grad_(False)

    def loss(self, outputs, batch):
        z = outputs["projections"]  # [2n, d]
        n = z.shape[0] // 2
        return self.criterion(z[:n], z[n:])


class SupervisedPhase(Phase):
    """Cross-entropy over the training identities on a P x K batch."""

    name = "supervised"
    uses_labels = True

    def __init__(self, cfg: SupervisedPhaseConfig, batcher: ClipBatcher):
        super().__init__(cfg, batcher)
        from gaitreid.losses import PartCrossEntropyLoss

        self.cross_entropy = PartCrossEntropyLoss(label_smoothing=cfg.label_smoothing)
        self.augment = build_augment(cfg.augment)
        self._frozen = None

    def make_sampler(self, indices, labels, seed, rank, world_size):
        self.sampler = IdentityBalancedSampler(indices, labels, self.cfg.batch_p, self.cfg.batch_k, seed=seed, rank=rank, world_size=world_size)
        return self.sampler

    def batch(self, step, rng):
        chosen, labels = self.sampler.batch_with_labels(step)
        clips = to_float_clips(self.batcher.clips(chosen, rng), self.augment, rng)
        return Batch(clips=clips, labels=torch.from_numpy(labels))

    def before_step(self, model, step):
        frozen = self.cfg.freeze_stages if step < self.cfg.freeze_early_steps else 0
        if frozen != self._frozen:
            model.freeze_stages(frozen)
            self._frozen = frozen

    def needs_unused_parameter_search(self):
        return self.cfg.freeze_early_steps > 0

    def loss(self, outputs, batch):
        loss, stats = self.cross_entropy(outputs["logits"], batch.labels)
        return loss, {"ce": float(loss.detach()), **stats}


class HybridPhase(SupervisedPhase):
    """Cross-entropy + lambda x triplet (batch-hard or batch-all, part-wise) on a P x K batch."""

    name = "hybrid"

    def __init__(self, cfg: HybridPhaseConfig, batcher: ClipBatcher):
        super().__init__(cfg, batcher)
        from gaitreid.losses import TripletLoss

        self.triplet = TripletLoss(margin=cfg.triplet_margin, mining=cfg.triplet_mining)

    def loss(self, outputs, batch):
        ce, ce_stats = self.cross_entropy(outputs["logits"], batch.labels)
        tri, tri_stats = self.triplet(outputs["embeddings"], batch.labels)
        total = ce + self.cfg.triplet_weight * tri
        stats = {"ce": float(ce.detach()), "triplet": float(tri.detach())}
        stats.update({f"ce_{k}": v for k, v in ce_stats.items()})
        stats.update({f"triplet_{k}": v for k, v in tri_stats.items()})
        return total, stats


PHASES = {"ssl": SSLPhase, "supervised": SupervisedPhase, "hybrid": HybridPhase}


def build_phase(name: str, cfg: PhaseConfig, batcher: ClipBatcher) -> Phase:
    return PHASES[name](cfg, batcher)
