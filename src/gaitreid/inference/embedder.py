"""Inference API, independent of training: load a checkpoint, turn silhouette sequences into embeddings.

    embedder = Embedder.from_checkpoint("runs/demo")      # run, phase or checkpoint directory
    emb = embedder.embed(frames)                          # frames: uint8 [T, H, W] -> float32 [c, p]
    all_emb = embedder.embed_store(store)                 # -> float32 [N, c, p]

The model pools over frames with a set operation, so any sequence length works and frame order
does not matter. Sequences of equal length are batched together; others go one at a time.
Only safetensors weights and a JSON state are read (see `gaitreid.training.checkpoint`).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch

from gaitreid.errors import CheckpointError, DataError
from gaitreid.training.checkpoint import MODEL_FILE, open_checkpoint, resolve_checkpoint


def model_config_from_dict(data: dict, source: str = "checkpoint"):
    """The models package's ModelConfig from its JSON form (validated by ModelConfig itself)."""
    from gaitreid.errors import ConfigError
    from gaitreid.models import ModelConfig

    try:
        return ModelConfig.from_dict(data)
    except (ConfigError, TypeError) as err:
        raise CheckpointError(f"{source}: model_config does not fit this version of gaitreid: {err}") from err


def pretreat_from_dict(data: dict):
    """PretreatConfig from the checkpoint's `pretreat` entry (unknown keys ignored)."""
    from gaitreid.data.pretreat import PretreatConfig

    known = {f.name for f in fields(PretreatConfig)}
    kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in known}
    return PretreatConfig(**kwargs)


class Embedder:
    """A trained GaitModel in eval mode plus what is needed to feed it (input size, pretreatment)."""

    def __init__(self, model: torch.nn.Module, model_config, pretreat, fingerprint: str, device: str = "cpu", source: str = ""):
        self.model = model.to(device).eval()
        self.model_config = model_config
        self.pretreat = pretreat
        self.fingerprint = fingerprint
        self.device = torch.device(device)
        self.source = source
        self.frame_shape = (int(pretreat.height), int(pretreat.width))
        self.max_chunk_frames = 512  # longer sequences are embedded chunk by chunk (bounded memory)

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu") -> "Embedder":
        """Load from a checkpoint directory, a phase directory or a run directory."""
        from gaitreid.models import build_model

        ckpt = open_checkpoint(resolve_checkpoint(path))
        model_config = model_config_from_dict(ckpt.model_config, source=str(ckpt.path / "state.json"))
        model = build_model(model_config)
        weights = ckpt.model_state()
        missing, unexpected = _load_weights(model, weights)
        if missing or unexpected:
            raise CheckpointError(
                f"checkpoint file {ckpt.path / MODEL_FILE} does not match its model_config: "
                f"missing {missing[:3]}, unexpected {unexpected[:3]}"
            )
        pretreat_data = dict(ckpt.state.get("pretreat") or {})
        pretreat_data.setdefault("height", ckpt.state.get("input_height"))
        pretreat_data.setdefault("width", ckpt.state.get("input_width"))
        pretreat = pretreat_from_dict(pretreat_data)
        digest = hashlib.sha256()
        digest.update(ckpt.state["files"][MODEL_FILE]["sha256"].encode())
        digest.update(json.dumps(ckpt.model_config, sort_keys=True).encode())
        return cls(model, model_config, pretreat, digest.hexdigest()[:16], device=device, source=str(ckpt.path))

    # ------------------------------------------------------------------------------------------

    def _check(self, frames: np.ndarray, name: str = "sequence") -> np.ndarray:
        frames = np.asarray(frames)
        if frames.ndim != 3:
            raise DataError(f"{name}: expected frames [T, H, W], got shape {frames.shape}")
        if frames.shape[0] == 0:
            raise DataError(f"{name}: sequence has no frames")
        if tuple(frames.shape[1:]) != self.frame_shape:
            raise DataError(
                f"{name}: frames are {frames.shape[1]}x{frames.shape[2]}, the model expects "
                f"{self.frame_shape[0]}x{self.frame_shape[1]} (pretreat them with embedder.pretreat)"
            )
        if frames.dtype != np.uint8:
            raise DataError(f"{name}: frames must be uint8 0..255, got {frames.dtype}")
        return frames

    @torch.inference_mode()
    def _forward(self, batch: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.array(batch, dtype=np.uint8)).to(self.device).float().div_(255.0)  # [n, s, h, w] (a writable copy)
        out = self.model(x)
        return out["embeddings"].float().cpu().numpy()  # [n, c, p]

    def embed(self, frames: np.ndarray) -> np.ndarray:
        """One pretreated sequence uint8 [T, H, W] (any T >= 1) -> float32 [c, p]."""
        frames = self._check(frames)
        if len(frames) > self.max_chunk_frames:
            return self._embed_long(frames)
        return self._forward(frames[None])[0]

    @torch.inference_mode()
    def _embed_long(self, frames: np.ndarray) -> np.ndarray:
        """A long sequence in chunks of frames, so memory stays bounded.

        Exact, because frames meet only in the temporal pooling: a max over frames (set models)
        is the max of per-chunk maxima; a mean (the frame-level baseline) is the length-weighted
        mean of per-chunk means.
        """
        from gaitreid.models import SetEncoder
        from gaitreid.models.frame_cnn import FrameMeanEncoder

        encoder = self.model.encoder
        chunks = [frames[i : i + self.max_chunk_frames] for i in range(0, len(frames), self.max_chunk_frames)]

        def tensor(chunk: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.array(chunk, dtype=np.uint8)).to(self.device).float().div_(255.0)[None]  # [1, s, h, w]

        if isinstance(encoder, SetEncoder):
            pooled = None
            for chunk in chunks:
                f = encoder.set_pooling(encoder.backbone(tensor(chunk).unsqueeze(2)))  # [1, c, h', w']
                pooled = f if pooled is None else torch.maximum(pooled, f)
            return encoder.fcs(encoder.hpp(pooled))[0].float().cpu().numpy()  # [c, p]
        if isinstance(encoder, FrameMeanEncoder):
            total = None
            for chunk in chunks:
                part = encoder.embed_frames(tensor(chunk)[0]).sum(0)  # [d]
                total = part if total is None else total + part
            return (total / len(frames))[:, None].float().cpu().numpy()  # [d, 1]
        return self._forward(frames[None])[0]

    def embed_many(self, sequences: list[np.ndarray], batch_size: int = 16) -> np.ndarray:
        """Several sequences -> float32 [N, c, p]; equal lengths share a forward pass."""
        sequences = [self._check(s, f"sequence {i}") for i, s in enumerate(sequences)]
        return self._embed_grouped(len(sequences), lambda i: sequences[i], [len(s) for s in sequences], batch_size)

    def embed_store(self, store, indices=None, batch_size: int = 16, max_frames: int = 0, progress: bool = False) -> np.ndarray:
        """Sequences of a SequenceStore (all, or `indices`) -> float32 [N, c, p] in that order.

        `max_frames` > 0 embeds only the middle `max_frames` frames of longer sequences (faster
        monitoring during training); 0 embeds every frame.
        """
        if tuple(store.frame_shape) != self.frame_shape:
            raise DataError(
                f"store frames are {store.frame_shape[0]}x{store.frame_shape[1]}, the model expects "
                f"{self.frame_shape[0]}x{self.frame_shape[1]}: build the store with embedder.pretreat"
            )
        indices = np.arange(len(store)) if indices is None else np.asarray(indices, dtype=np.int64)
        lengths = [int(store.lengths[i]) for i in indices]
        if max_frames > 0:
            lengths = [min(n, max_frames) for n in lengths]

        def frames_of(j: int) -> np.ndarray:
            frames = store.frames(int(indices[j]))
            if max_frames > 0 and len(frames) > max_frames:
                start = (len(frames) - max_frames) // 2
                frames = frames[start : start + max_frames]
            return frames

        return self._embed_grouped(len(indices), frames_of, lengths, batch_size, progress=progress)

    def _embed_grouped(self, count: int, frames_of, lengths: list[int], batch_size: int, progress: bool = False) -> np.ndarray:
        by_length: dict[int, list[int]] = defaultdict(list)
        for j, n in enumerate(lengths):
            by_length[n].append(j)
        out: np.ndarray | None = None
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=count, desc="embed", unit="seq", leave=False)
        for n, members in by_length.items():
            if n > self.max_chunk_frames:
                for j in members:
                    emb = self.embed(np.asarray(frames_of(j)))
                    if out is None:
                        out = np.empty((count, *emb.shape), dtype=np.float32)
                    out[j] = emb
                    if bar:
                        bar.update(1)
                continue
            # long sequences go in smaller batches so one forward pass stays a few hundred frames
            per_batch = max(1, min(batch_size, 2048 // max(n, 1)))
            for start in range(0, len(members), per_batch):
                chunk = members[start : start + per_batch]
                batch = np.stack([np.asarray(frames_of(j)) for j in chunk])  # [b, n, h, w]
                emb = self._forward(batch)
                if out is None:
                    out = np.empty((count, *emb.shape[1:]), dtype=np.float32)
                out[chunk] = emb
                if bar:
                    bar.update(len(chunk))
        if bar:
            bar.close()
        if out is None:
            return np.empty((0, 0, 0), dtype=np.float32)
        return out


def _load_weights(model: torch.nn.Module, weights: dict[str, torch.Tensor]) -> tuple[list[str], list[str]]:
    """Copy `weights` into `model`; returns (missing, unexpected) keys. Shape mismatches raise."""
    own = model.state_dict()
    missing = [k for k in own if k not in weights]
    unexpected = [k for k in weights if k not in own]
    for key, value in weights.items():
        if key in own and own[key].shape != value.shape:
            raise CheckpointError(f"checkpoint tensor '{key}' has shape {tuple(value.shape)}, the model expects {tuple(own[key].shape)}")
    model.load_state_dict({k: v for k, v in weights.items() if k in own}, strict=False)
    return missing, unexpected
