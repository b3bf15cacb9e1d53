"""Building blocks that turn a per-frame CNN into a sequence ("set") model.

The names follow the gait literature (GaitSet, Chao et al. 2019; GaitPart / GaitBase):
a walking sequence is an unordered *set* of silhouettes, so frames are encoded one by one,
pooled over time with a symmetric function (max), and the pooled map is cut into horizontal
strips ("parts") that each get their own embedding.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class SetBlockWrapper(nn.Module):
    """Run a 2-D module on every frame of `[n, s, c, h, w]` by folding frames into the batch.

    Folding once (rather than looping over frames) lets the convolution library see one big
    batch `[n*s, c, h, w]`, which is what makes per-frame encoding fast.
    """

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, s = x.shape[:2]
        y = self.module(x.reshape(n * s, *x.shape[2:]))  # [n*s, c', h', w']
        return y.reshape(n, s, *y.shape[1:])  # [n, s, c', h', w']


class SetPooling(nn.Module):
    """Temporal max over the frames: `[n, s, c, h, w] -> [n, c, h, w]`.

    Max is symmetric, so the result does not depend on frame order, and it accepts any
    number of frames s >= 1 (GaitSet's "set pooling").
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.amax(x, dim=1)


class HorizontalPyramidPooling(nn.Module):
    """Cut a feature map into horizontal strips at several scales; mean + max per strip.

    `bins=(1, 2, 4, 8, 16)` gives 31 parts (the whole body, halves, quarters...); `bins=(16,)`
    gives 16 strips only (as in GaitBase). `[n, c, h, w] -> [n, c, p]` with p = sum(bins).
    Adaptive pooling makes strips even when h is not a multiple of the bin count.
    """

    def __init__(self, bins: Sequence[int] = (1, 2, 4, 8, 16)):
        super().__init__()
        if not bins or any(int(b) < 1 for b in bins):
            raise ValueError(f"bins must be positive integers, got {bins!r}")
        self.bins = tuple(int(b) for b in bins)

    @property
    def num_parts(self) -> int:
        return sum(self.bins)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        strips = []
        for b in self.bins:  # a handful of scales; each pools all its strips at once
            mean = F.adaptive_avg_pool2d(x, (b, 1))  # [n, c, b, 1]
            peak = F.adaptive_max_pool2d(x, (b, 1))  # [n, c, b, 1]
            strips.append((mean + peak).flatten(2))  # [n, c, b]
        return torch.cat(strips, dim=2)  # [n, c, p]


class SeparateFCs(nn.Module):
    """One linear map per part, all applied in a single batched matmul.

    `[n, c_in, p] -> [n, c_out, p]`, weight `[p, c_in, c_out]`: part j only sees strip j, so
    each body region learns its own projection (GaitSet's "separate fully connected layers").
    """

    def __init__(self, num_parts: int, in_channels: int, out_channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_parts, in_channels, out_channels))
        nn.init.xavier_uniform_(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("ncp,pcd->ndp", x, self.weight)  # [n, c_out, p]


class SeparateBNNecks(nn.Module):
    """Part-wise BatchNorm, then (optionally) a part-wise classifier.

    The "BNNeck" of Luo et al. 2019 (Bag of Tricks for ReID), applied to every part separately:
    triplet losses use the features before BN, cross-entropy the logits after it.
    `[n, c, p] -> bn [n, c, p]`, logits `[n, k, p]` (None when num_classes == 0).
    """

    def __init__(self, num_parts: int, channels: int, num_classes: int = 0):
        super().__init__()
        self.num_parts = num_parts
        self.channels = channels
        self.bn = nn.BatchNorm1d(channels * num_parts)  # one BN channel per (channel, part)
        self.classifier: nn.Parameter | None = None
        self.reset_classifier(num_classes)

    @property
    def num_classes(self) -> int:
        return 0 if self.classifier is None else self.classifier.shape[2]

    def reset_classifier(self, num_classes: int) -> None:
        """Drop the current classifier and create a fresh one for `num_classes` identities."""
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {num_classes}")
        if num_classes == 0:
            self.classifier = None
            return
        device = self.bn.weight.device
        weight = torch.empty(self.num_parts, self.channels, num_classes, device=device)
        nn.init.normal_(weight, std=0.01)
        self.classifier = nn.Parameter(weight)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        n, c, p = x.shape
        bn = self.bn(x.reshape(n, c * p)).reshape(n, c, p)  # [n, c, p]
        if self.classifier is None:
            return bn, None
        logits = torch.einsum("ncp,pck->nkp", bn, self.classifier)  # [n, k, p]
        return bn, logits
