"""Training losses; each is an nn.Module returning `(loss, stats: dict[str, float])`.

- `NTXentLoss`: SimCLR's contrastive loss on two views `[n, d]` (phase 1);
- `PartCrossEntropyLoss`: identity classification per part on logits `[n, k, p]` (phases 2, 3);
- `TripletLoss`: part-wise metric loss on embeddings `[n, c, p]` (phase 3).
"""

from gaitreid.losses.cross_entropy import PartCrossEntropyLoss
from gaitreid.losses.ntxent import NTXentLoss, gather_with_local_grad
from gaitreid.losses.triplet import TripletLoss, part_distances

__all__ = ["NTXentLoss", "PartCrossEntropyLoss", "TripletLoss", "gather_with_local_grad", "part_distances"]
