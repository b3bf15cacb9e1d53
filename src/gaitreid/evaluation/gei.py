"""The classical baseline: the gait energy image (GEI), the mean silhouette of a sequence.

Flattened, a GEI is an embedding `[H*W, 1]` (one part) that any protocol here can score; every
learned model should beat it. The same images make the thumbnails of the report's rank lists.
"""

from __future__ import annotations

import numpy as np

from gaitreid.errors import DataError


def gait_energy_image(frames: np.ndarray) -> np.ndarray:
    """Mean of the frames `[T, H, W]` (uint8 0..255) as float32 `[H, W]` in [0, 1]."""
    if frames.ndim != 3 or len(frames) == 0:
        raise DataError(f"a GEI needs frames [T, H, W] with T > 0, got shape {frames.shape}")
    return (frames.mean(axis=0, dtype=np.float64) / 255.0).astype(np.float32)


def gait_energy_images(store, indices) -> np.ndarray:
    """GEIs `[N, H, W]` of the store's sequences `indices` (all of them when None)."""
    indices = np.arange(len(store)) if indices is None else np.asarray(indices, dtype=np.int64)
    height, width = store.frame_shape
    images = np.empty((len(indices), height, width), dtype=np.float32)
    for row, index in enumerate(indices):
        frames = store.frames(int(index))
        if len(frames) == 0:
            raise DataError(f"sequence {store.keys[int(index)]} has no frames: no GEI")
        images[row] = gait_energy_image(frames)
    return images


def gei_embeddings(store, indices=None) -> np.ndarray:
    """GEI baseline embeddings `[N, H*W, 1]`: each sequence's mean silhouette, flattened."""
    images = gait_energy_images(store, indices)
    return images.reshape(len(images), -1, 1)  # [N, H*W, 1]
