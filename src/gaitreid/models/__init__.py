"""Gait networks: per-frame backbones, set pooling, part-wise heads, and the SimCLR projection.

Start with `ModelConfig` and `build_model`; `GaitModel.forward` maps clips `[n, s, h, w]`
(floats in [0, 1]) to `{"embeddings": [n, c, p], "bn_embeddings": [n, c, p], "logits": [n, k, p]}`.
"""

from gaitreid.models.config import MODEL_REGISTRY, ModelConfig, build_model
from gaitreid.models.gait_model import GaitModel, SetEncoder
from gaitreid.models.projection import ProjectionHead

__all__ = ["MODEL_REGISTRY", "GaitModel", "ModelConfig", "ProjectionHead", "SetEncoder", "build_model"]
