"""Part-wise cross-entropy: every horizontal part classifies the identity on its own.

    loss = (1/p) sum_j CE_ls(logits[:, :, j], labels)

with label smoothing eps (Szegedy et al. 2016): the target puts 1 - eps on the true class and
eps/k on every class. Logits `[n, k, p]`, labels `[n]` (0..k-1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PartCrossEntropyLoss(nn.Module):
    """(loss, stats) with stats `loss` and `accuracy` (argmax correct, averaged over parts)."""

    def __init__(self, label_smoothing: float = 0.1):
        super().__init__()
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.label_smoothing = float(label_smoothing)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        if logits.dim() != 3 or labels.shape != logits.shape[:1]:
            raise ValueError(f"need logits [n, k, p] and labels [n], got {tuple(logits.shape)} and {tuple(labels.shape)}")
        logits = logits.float()
        n, _, p = logits.shape
        targets = labels.long()[:, None].expand(n, p)  # [n, p]: the same identity for every part
        loss = F.cross_entropy(logits, targets, label_smoothing=self.label_smoothing)
        with torch.no_grad():
            accuracy = (logits.argmax(dim=1) == targets).float().mean()
        return loss, {"loss": float(loss.detach()), "accuracy": float(accuracy)}
