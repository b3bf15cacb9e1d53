"""`GaitModel`: a sequence of silhouettes in, a part-wise embedding out.

    clip [n, s, h, w] -> encoder -> embeddings [n, c, p] -> BN neck -> bn_embeddings [n, c, p]
                                                                   -> classifier -> logits [n, k, p]

The encoder is either the set model (per-frame backbone -> set pooling -> horizontal pyramid
pooling -> separate FCs) or the frame-level baseline (`frame_cnn.FrameMeanEncoder`). Retrieval
uses `embeddings` (before BN); cross-entropy uses `logits`; triplet uses `embeddings`.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from gaitreid.models.set_blocks import (
    HorizontalPyramidPooling,
    SeparateBNNecks,
    SeparateFCs,
    SetBlockWrapper,
    SetPooling,
)


class SetEncoder(nn.Module):
    """backbone on every frame -> max over frames -> strips -> one FC per strip: `[n,s,h,w] -> [n,d,p]`."""

    def __init__(self, backbone: nn.Module, bins: Sequence[int], embedding_dim: int):
        super().__init__()
        self.backbone = SetBlockWrapper(backbone)
        self.set_pooling = SetPooling()
        self.hpp = HorizontalPyramidPooling(bins)
        self.fcs = SeparateFCs(self.hpp.num_parts, backbone.out_channels, embedding_dim)
        self.embedding_dim = embedding_dim
        self.num_parts = self.hpp.num_parts

    def stages(self) -> list[nn.Module]:
        return list(self.backbone.module.stages)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.backbone(x.unsqueeze(2))  # [n, s, c, h', w']
        f = self.set_pooling(f)  # [n, c, h', w']
        f = self.hpp(f)  # [n, c, p]
        return self.fcs(f)  # [n, d, p]


class GaitModel(nn.Module):
    """An encoder `[n, s, h, w] -> [n, c, p]` plus the part-wise BN neck and optional classifier."""

    def __init__(self, encoder: nn.Module, num_classes: int = 0):
        super().__init__()
        self.encoder = encoder
        self.neck = SeparateBNNecks(encoder.num_parts, encoder.embedding_dim, num_classes)
        self.frozen_stages = 0
        self.config = None  # the ModelConfig, set by build_model

    @property
    def embedding_dim(self) -> int:
        return self.encoder.embedding_dim

    @property
    def num_parts(self) -> int:
        return self.encoder.num_parts

    @property
    def num_classes(self) -> int:
        return self.neck.num_classes

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.dim() != 4 or not x.is_floating_point():
            raise ValueError(
                f"GaitModel expects float clips [n, s, h, w] in [0, 1], got {x.dtype} {tuple(x.shape)}"
            )
        embeddings = self.encoder(x)  # [n, c, p]
        bn_embeddings, logits = self.neck(embeddings)
        out = {"embeddings": embeddings, "bn_embeddings": bn_embeddings}
        if logits is not None:
            out["logits"] = logits  # [n, k, p]
        return out

    def replace_classifier(self, num_classes: int) -> None:
        """A fresh classifier for a new set of identities (phase 2 starts from phase 1's encoder)."""
        self.neck.reset_classifier(num_classes)
        if self.config is not None:
            self.config.num_classes = num_classes

    def backbone_stages(self) -> list[nn.Module]:
        """The encoder's convolution stages, earliest first (for freezing early layers)."""
        return self.encoder.stages()

    def freeze_stages(self, count: int) -> int:
        """Freeze the first `count` stages (no gradients, BN statistics fixed); 0 unfreezes all.

        Returns the number of frozen parameters. The choice survives `model.train()`.
        """
        stages = self.backbone_stages()
        if not 0 <= count <= len(stages):
            raise ValueError(f"can freeze 0..{len(stages)} stages, asked for {count}")
        frozen = 0
        for i, stage in enumerate(stages):
            for param in stage.parameters():
                param.requires_grad_(i >= count)
                frozen += param.numel() if i < count else 0
        self.frozen_stages = count
        self.train(self.training)
        return frozen

    def train(self, mode: bool = True) -> "GaitModel":
        super().train(mode)
        for stage in self.backbone_stages()[: self.frozen_stages]:
            stage.eval()  # keep frozen BN running statistics as they are
        return self

    def use_channels_last(self) -> "GaitModel":
        """Store convolution weights NHWC; CPU (oneDNN) convolutions then run channels-last."""
        return self.to(memory_format=torch.channels_last)
