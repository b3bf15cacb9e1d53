"""The SimCLR projection head (Chen et al. 2020): the contrastive loss is applied after it.

SimCLR found that the representation *before* a small non-linear head transfers better than the
one the NT-Xent loss sees, so phase 1 trains `encoder -> head -> loss` and keeps the encoder.
"""

from __future__ import annotations

import torch
from torch import nn


class ProjectionHead(nn.Module):
    """Flatten `[n, c, p]` to `[n, c*p]`, then Linear -> BN -> ReLU -> Linear: `[n, out_dim]`."""

    def __init__(self, in_dim: int, hidden_dim: int = 512, out_dim: int = 128):
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(in_dim, hidden_dim, bias=False),
            nn.BatchNorm1d(hidden_dim),
            nn.ReLU(inplace=True),
            nn.Linear(hidden_dim, out_dim),
        )

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.mlp(embeddings.flatten(1))  # [n, out_dim]
