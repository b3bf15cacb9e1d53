"""The frame-level baseline of the original research scripts, kept to measure the sequence model.

A plain CNN sees ONE silhouette and gives one embedding; nothing in it knows about time.
A sequence is then embedded as the mean of its frames' embeddings. Exposed with the same
output shape `[n, c, 1]` as the set models so training and evaluation treat it the same way;
training it on clips of length 1 reproduces the original single-image training exactly.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


class FrameCNN(nn.Module):
    """conv3x3-BN-ReLU-maxpool per width, global average pool, linear: `[N, 1, h, w] -> [N, d]`."""

    def __init__(self, widths: Sequence[int] = (32, 64, 128), embedding_dim: int = 128):
        super().__init__()
        if not widths:
            raise ValueError("FrameCNN needs at least one width")
        stages, c_in = [], 1
        for c_out in widths:
            stages.append(
                nn.Sequential(
                    nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                    nn.BatchNorm2d(c_out),
                    nn.ReLU(inplace=True),
                    nn.MaxPool2d(2),
                )
            )
            c_in = c_out
        self.stages = nn.ModuleList(stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, embedding_dim)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = frames
        for stage in self.stages:
            x = stage(x)
        return self.fc(self.pool(x).flatten(1))  # [N, d]


class FrameMeanEncoder(nn.Module):
    """Embed every frame with `FrameCNN`, average over frames: `[n, s, h, w] -> [n, d, 1]`."""

    def __init__(self, widths: Sequence[int] = (32, 64, 128), embedding_dim: int = 128):
        super().__init__()
        self.cnn = FrameCNN(widths, embedding_dim)
        self.embedding_dim = embedding_dim
        self.num_parts = 1

    def embed_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """One embedding per image: `[N, h, w]` or `[N, 1, h, w]` -> `[N, d]`."""
        if frames.dim() == 3:
            frames = frames.unsqueeze(1)
        return self.cnn(frames)

    def stages(self) -> list[nn.Module]:
        return list(self.cnn.stages)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, s, h, w = x.shape
        per_frame = self.cnn(x.reshape(n * s, 1, h, w)).reshape(n, s, -1)  # [n, s, d]
        return per_frame.mean(dim=1).unsqueeze(-1)  # [n, d, 1]
