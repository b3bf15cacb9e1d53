"""Inference: embed silhouette sequences with a trained checkpoint (no training code needed)."""

from gaitreid.inference.embedder import Embedder

__all__ = ["Embedder"]
