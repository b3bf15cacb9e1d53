"""Part-wise triplet loss with batch-hard or batch-all mining (Hermans et al. 2017).

Embeddings `[n, c, p]`, labels `[n]`. For every part j, d_j(a, b) is the Euclidean distance
between the part-j embeddings of samples a and b; all parts are computed at once as `[p, n, n]`.

- batch_hard: for each anchor a with at least one positive and one negative,
      l_j(a) = max(0, m + max_{pos} d_j(a, pos) - min_{neg} d_j(a, neg));
  loss = mean over parts and such anchors.
- batch_all: every triplet (a, pos, neg) with label(pos) = label(a), pos != a, label(neg) != label(a),
      l_j(a, pos, neg) = max(0, m + d_j(a, pos) - d_j(a, neg));
  per part, the sum is divided by the number of ACTIVE (non-zero) triplets, as is usual in gait
  recognition (GaitSet, GaitBase), so easy triplets do not dilute the gradient; then the mean
  over parts. Memory is p * n^3 floats (n=64, p=31: 8M floats), fine for P x K batches.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MINING = ("batch_hard", "batch_all")


def part_distances(embeddings: torch.Tensor) -> torch.Tensor:
    """Euclidean distances between all samples, for every part: `[n, c, p] -> [p, n, n]`."""
    x = embeddings.permute(2, 0, 1)  # [p, n, c]
    sq = (x * x).sum(dim=2)  # [p, n]
    d2 = sq[:, :, None] + sq[:, None, :] - 2 * x @ x.transpose(1, 2)  # [p, n, n]
    return d2.clamp_min(1e-12).sqrt()


class TripletLoss(nn.Module):
    """(loss, stats); stats: `loss`, `mean_distance` (over all pairs and parts), `active`
    (number of non-zero anchor or triplet terms, summed over parts) and `active_fraction`."""

    def __init__(self, margin: float = 0.2, mining: str = "batch_all"):
        super().__init__()
        if mining not in MINING:
            raise ValueError(f"mining must be one of {MINING}, got {mining!r}")
        if margin < 0:
            raise ValueError(f"margin must be >= 0, got {margin}")
        self.margin = float(margin)
        self.mining = mining

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        if embeddings.dim() != 3 or labels.shape != embeddings.shape[:1]:
            raise ValueError(
                f"need embeddings [n, c, p] and labels [n], got {tuple(embeddings.shape)} and {tuple(labels.shape)}"
            )
        n = embeddings.shape[0]
        dist = part_distances(embeddings.float())  # [p, n, n]
        same = labels[:, None] == labels[None, :]  # [n, n]
        positive = same & ~torch.eye(n, dtype=torch.bool, device=same.device)  # [n, n]
        negative = ~same  # [n, n]
        if self.mining == "batch_hard":
            loss, active, total = self._batch_hard(dist, positive, negative)
        else:
            loss, active, total = self._batch_all(dist, positive, negative)
        with torch.no_grad():
            off_diagonal = ~torch.eye(n, dtype=torch.bool, device=dist.device)
            mean_distance = dist[:, off_diagonal].mean() if n > 1 else dist.new_zeros(())
        stats = {
            "loss": float(loss.detach()),
            "mean_distance": float(mean_distance),
            "active": float(active),
            "active_fraction": float(active) / total if total else 0.0,
        }
        return loss, stats

    def _batch_hard(self, dist, positive, negative):
        hardest_positive = dist.masked_fill(~positive, float("-inf")).amax(dim=2)  # [p, n]
        hardest_negative = dist.masked_fill(~negative, float("inf")).amin(dim=2)  # [p, n]
        usable = positive.any(dim=1) & negative.any(dim=1)  # [n]: anchors with both kinds
        losses = F.relu(self.margin + hardest_positive - hardest_negative)[:, usable]  # [p, n_usable]
        if losses.numel() == 0:
            return dist.sum() * 0.0, 0, 0
        return losses.mean(), int((losses > 0).sum()), losses.numel()

    def _batch_all(self, dist, positive, negative):
        valid = positive[:, :, None] & negative[:, None, :]  # [a, pos, neg]
        triplets = self.margin + dist[:, :, :, None] - dist[:, :, None, :]  # [p, a, pos, neg]
        losses = F.relu(triplets) * valid  # [p, a, pos, neg]: invalid triplets count zero
        active_per_part = (losses > 0).sum(dim=(1, 2, 3))  # [p]
        per_part = losses.sum(dim=(1, 2, 3)) / active_per_part.clamp_min(1)  # [p]
        total = int(valid.sum()) * dist.shape[0]
        return per_part.mean(), int(active_per_part.sum()), total
