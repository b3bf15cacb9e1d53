"""Per-frame CNN backbones: one silhouette `[N, 1, h, w]` in, a feature map `[N, c, h', w']` out.

Two sizes:
- `CompactGaitSetBackbone`: GaitSet-like (Chao et al. 2019) plain convolutions, widths 32-64-128,
  5x5 then 3x3 kernels, max pools between stages. Small enough to train on a 2-core CPU.
- `ResNet9Backbone`: GaitBase-like (Fan et al. 2023, OpenGait) ResNet with one BasicBlock per
  stage, widths 64-128-256-512. Meant for users with a GPU.

Both downsample only as far as the horizontal parts allow: `plan_downsampling` keeps at least
`min_rows` rows in the final map, so 64x44 and 32x22 inputs both end with 16 rows for 16 strips.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


def plan_downsampling(in_height: int, min_rows: int, available: int) -> tuple[bool, ...]:
    """Which of the `available` 2x downsampling points to use, earliest first.

    Uses as many as possible while the final map keeps >= `min_rows` rows: with min_rows=16,
    a 64-row input uses two (64 -> 32 -> 16) and a 32-row input one (32 -> 16).
    """
    used, rows = 0, in_height
    while used < available and rows // 2 >= min_rows:
        rows //= 2
        used += 1
    return tuple(i < used for i in range(available))


def output_rows(in_height: int, downsample: Sequence[bool]) -> int:
    rows = in_height
    for d in downsample:
        rows = rows // 2 if d else rows
    return rows


def conv_bn_act(c_in: int, c_out: int, kernel: int, act: nn.Module) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
        act,
    )


class CompactGaitSetBackbone(nn.Module):
    """Three stages of two convolutions each (first kernel 5x5, then 3x3), LeakyReLU, BN.

    `downsample[i]` puts a 2x2 max pool after stage i (two points: after stages 1 and 2).
    """

    DOWNSAMPLING_POINTS = 2

    def __init__(self, widths: Sequence[int] = (32, 64, 128), downsample: Sequence[bool] = (True, True)):
        super().__init__()
        if len(widths) != 3:
            raise ValueError(f"CompactGaitSetBackbone needs 3 widths, got {widths!r}")
        if len(downsample) != self.DOWNSAMPLING_POINTS:
            raise ValueError(f"downsample needs {self.DOWNSAMPLING_POINTS} flags, got {downsample!r}")
        w1, w2, w3 = widths
        pools = [nn.MaxPool2d(2) if d else nn.Identity() for d in downsample]
        self.stages = nn.ModuleList(
            [
                nn.Sequential(
                    conv_bn_act(1, w1, 5, nn.LeakyReLU(0.01, inplace=True)),
                    conv_bn_act(w1, w1, 3, nn.LeakyReLU(0.01, inplace=True)),
                    pools[0],
                ),
                nn.Sequential(
                    conv_bn_act(w1, w2, 3, nn.LeakyReLU(0.01, inplace=True)),
                    conv_bn_act(w2, w2, 3, nn.LeakyReLU(0.01, inplace=True)),
                    pools[1],
                ),
                nn.Sequential(
                    conv_bn_act(w2, w3, 3, nn.LeakyReLU(0.01, inplace=True)),
                    conv_bn_act(w3, w3, 3, nn.LeakyReLU(0.01, inplace=True)),
                ),
            ]
        )
        self.out_channels = w3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.stages:
            x = stage(x)
        return x


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual shortcut (He et al. 2016)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + self.shortcut(x))


class ResNet9Backbone(nn.Module):
    """GaitBase-like ResNet-9: a 3x3 stem, then one BasicBlock per stage (1 + 4x2 = 9 convs).

    Stages 2 and 3 may stride by 2 (`downsample` has two flags); stages 1 and 4 keep the size.
    """

    DOWNSAMPLING_POINTS = 2

    def __init__(self, widths: Sequence[int] = (64, 128, 256, 512), downsample: Sequence[bool] = (True, True)):
        super().__init__()
        if len(widths) != 4:
            raise ValueError(f"ResNet9Backbone needs 4 widths, got {widths!r}")
        if len(downsample) != self.DOWNSAMPLING_POINTS:
            raise ValueError(f"downsample needs {self.DOWNSAMPLING_POINTS} flags, got {downsample!r}")
        w1, w2, w3, w4 = widths
        s2, s3 = (2 if d else 1 for d in downsample)
        stem = conv_bn_act(1, w1, 3, nn.ReLU(inplace=True))
        self.stages = nn.ModuleList(
            [
                nn.Sequential(stem, BasicBlock(w1, w1, 1)),
                BasicBlock(w1, w2, s2),
                BasicBlock(w2, w3, s3),
                BasicBlock(w3, w4, 1),
            ]
        )
        self.out_channels = w4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.stages:
            x = stage(x)
        return x
