"""NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR (Chen et al. 2020).

Given two views z1[i], z2[i] of the same n sequences, the 2n views are L2-normalised and every
view must pick its partner among the 2n - 1 others:

    s(a, b) = <a, b> / (|a| |b| tau)
    loss = mean over the 2n views v of  -log( exp(s(v, v+)) / sum_{u != v} exp(s(v, u)) )

Under DistributedDataParallel the candidates are the views of ALL ranks (more negatives for
free). Every rank gathers all views and computes the same full 2N-view loss; only its own views
carry gradient. That gives each rank the exact gradient of the full loss for its own views;
the gather's backward multiplies it by the world size because DDP then averages over ranks.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


def distributed_world() -> tuple[int, int]:
    """(rank, world size); (0, 1) when torch.distributed is not in use."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class _GatherWithLocalGrad(torch.autograd.Function):
    """all_gather along dim 0; the backward passes gradient to the local slice only (x world size)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        rank, world = distributed_world()
        sizes = [torch.zeros(1, dtype=torch.long) for _ in range(world)]
        dist.all_gather(sizes, torch.tensor([x.shape[0]], dtype=torch.long))
        sizes = [int(s.item()) for s in sizes]
        longest = max(sizes)
        padded = x.new_zeros((longest, *x.shape[1:]))  # all_gather needs equal shapes
        padded[: x.shape[0]] = x
        gathered = [torch.empty_like(padded) for _ in range(world)]
        dist.all_gather(gathered, padded.contiguous())
        ctx.rank, ctx.world, ctx.sizes = rank, world, sizes
        return torch.cat([g[:s] for g, s in zip(gathered, sizes)])  # [sum(sizes), ...]

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        start = sum(ctx.sizes[: ctx.rank])
        return grad[start : start + ctx.sizes[ctx.rank]] * ctx.world


def gather_with_local_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate `x` from every rank (rank order); identity when not distributed."""
    _, world = distributed_world()
    if world == 1:
        return x
    return _GatherWithLocalGrad.apply(x)


class NTXentLoss(nn.Module):
    """NT-Xent on two views `z1, z2: [n, d]` -> (loss, stats).

    stats: `loss`, `positive_cosine` (mean cosine between the two views of a sequence),
    `accuracy` (fraction of views whose most similar other view is their partner).
    """

    def __init__(self, temperature: float = 0.1):
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        if z1.shape != z2.shape or z1.dim() != 2:
            raise ValueError(f"NTXentLoss needs two [n, d] views of equal shape, got {tuple(z1.shape)} and {tuple(z2.shape)}")
        z1 = gather_with_local_grad(F.normalize(z1.float(), dim=1))  # [N, d], N over all ranks
        z2 = gather_with_local_grad(F.normalize(z2.float(), dim=1))  # [N, d]
        n = z1.shape[0]
        z = torch.cat([z1, z2])  # [2N, d]: view i and view i + N are partners
        sim = z @ z.T / self.temperature  # [2N, 2N]
        self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
        sim = sim.masked_fill(self_mask, float("-inf"))  # a view is not its own candidate
        partner = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)  # [2N]
        loss = F.cross_entropy(sim, partner)
        with torch.no_grad():
            positive_cosine = (z1 * z2).sum(dim=1).mean()
            accuracy = (sim.argmax(dim=1) == partner).float().mean()
        stats = {"loss": float(loss.detach()), "positive_cosine": float(positive_cosine), "accuracy": float(accuracy)}
        return loss, stats
