"""Checkpoints: one directory per save, written atomically, tensors in safetensors, the rest in JSON.

Layout of one checkpoint directory (e.g. `runs/NAME/ssl/step-00000200/`):

    model.safetensors        the GaitModel's state dict (what inference needs)
    head.safetensors         the phase's training-only head (SSL projection MLP), if any
    train_state.safetensors  optimiser state tensors (`optimizer.<param>.<name>`) and `rng.torch`
    state.json               format, phase, step, model_config, pretreat, the run config, optimiser
                             scalars and param groups, scheduler state, python/numpy RNG states,
                             metrics, and the byte size + sha256 of every file above

`state.json` is written last inside a temporary directory that is then renamed into place, so a
directory named `step-*` or `best-*` is always complete; a killed save leaves only a `.tmp-*`
directory that is ignored. Loading verifies sizes and hashes, so a truncated or altered file is a
`CheckpointError` naming it. Nothing is unpickled.

A phase directory holds `step-NNNNNNNN/` (the latest few, for `--resume`), `best-NNNNNNNN/` (the
best on validation) and `metrics.jsonl`. A run directory holds one phase directory per phase.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from gaitreid.atomic import replace_directory
from gaitreid.errors import CheckpointError

CHECKPOINT_FORMAT = "gaitreid-checkpoint/1"
MODEL_FILE = "model.safetensors"
HEAD_FILE = "head.safetensors"
TRAIN_STATE_FILE = "train_state.safetensors"
STATE_FILE = "state.json"
PHASE_ORDER = ("hybrid", "supervised", "ssl")  # most trained first: what a run directory serves


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _contiguous(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}


# ----------------------------------------------------------------------------------------------
# Optimiser and RNG state <-> (tensors, JSON)


def split_optimizer_state(state_dict: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """torch optimiser state dict -> (flat tensors, JSON-able rest)."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for param_id, entries in state_dict["state"].items():
        for name, value in entries.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{param_id}.{name}"] = value
            else:
                scalars.setdefault(str(param_id), {})[name] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def join_optimizer_state(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if not key.startswith("optimizer."):
            continue
        _, param_id, name = key.split(".", 2)
        state.setdefault(int(param_id), {})[name] = value
    for param_id, entries in meta.get("scalars", {}).items():
        state.setdefault(int(param_id), {}).update(entries)
    groups = []
    for group in meta["param_groups"]:
        group = dict(group)
        if isinstance(group.get("betas"), list):
            group["betas"] = tuple(group["betas"])
        groups.append(group)
    return {"state": state, "param_groups": groups}


def capture_rng() -> tuple[dict, dict[str, torch.Tensor]]:
    """Python, numpy (legacy global) and torch generator states: JSON part and tensor part."""
    version, internal, gauss = random.getstate()
    np_state = np.random.get_state()
    meta = {
        "python": [version, list(internal), gauss],
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
    }
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    return meta, tensors


def restore_rng(meta: dict, tensors: dict[str, torch.Tensor]) -> None:
    if "python" in meta:
        version, internal, gauss = meta["python"]
        random.setstate((version, tuple(internal), gauss))
    if "numpy" in meta:
        name, keys, pos, has_gauss, cached = meta["numpy"]
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    if "rng.torch" in tensors:
        torch.set_rng_state(tensors["rng.torch"])
    cuda = [tensors[k] for k in sorted(tensors) if k.startswith("rng.cuda.")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)


# ----------------------------------------------------------------------------------------------
# Writing


def save_checkpoint(
    directory: str | Path,
    *,
    model_state: dict[str, torch.Tensor],
    state: dict,
    head_state: dict[str, torch.Tensor] | None = None,
    train_tensors: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write one checkpoint directory atomically (temporary directory + rename).

    `state` is the JSON part (phase, step, model_config, pretreat, config, ...); file sizes and
    hashes are added here. An existing directory of the same name is replaced.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = directory.parent / f".{directory.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    files = {MODEL_FILE: model_state}
    if head_state:
        files[HEAD_FILE] = head_state
    if train_tensors:
        files[TRAIN_STATE_FILE] = train_tensors
    manifest = {}
    for name, tensors in files.items():
        path = tmp / name
        save_file(_contiguous(tensors), str(path))
        manifest[name] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
    full_state = {"format": CHECKPOINT_FORMAT, **state, "files": manifest}
    with open(tmp / STATE_FILE, "w") as f:
        json.dump(full_state, f, indent=1, sort_keys=False)
        f.flush()
        os.fsync(f.fileno())
    replace_directory(tmp, directory)
    return directory


def prune_checkpoints(phase_dir: str | Path, prefix: str, keep: int) -> None:
    """Delete all but the newest `keep` checkpoints named `prefix-NNNNNNNN`."""
    found = sorted(Path(phase_dir).glob(f"{prefix}-*"), key=lambda p: p.name)
    for old in found[:-keep] if keep > 0 else found:
        shutil.rmtree(old, ignore_errors=True)


def checkpoint_name(prefix: str, step: int) -> str:
    return f"{prefix}-{step:08d}"


# ----------------------------------------------------------------------------------------------
# Reading


@dataclass
class Checkpoint:
    """A verified checkpoint directory; tensors are read on demand."""

    path: Path
    state: dict

    @property
    def step(self) -> int:
        return int(self.state.get("step", 0))

    @property
    def phase(self) -> str:
        return str(self.state.get("phase", ""))

    @property
    def model_config(self) -> dict:
        return dict(self.state.get("model_config") or {})

    def _load(self, name: str) -> dict[str, torch.Tensor]:
        path = self.path / name
        if name not in self.state.get("files", {}):
            return {}
        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as err:
            raise CheckpointError(f"checkpoint file {path} cannot be read: {err}") from err

    def model_state(self) -> dict[str, torch.Tensor]:
        return self._load(MODEL_FILE)

    def head_state(self) -> dict[str, torch.Tensor]:
        return self._load(HEAD_FILE)

    def train_tensors(self) -> dict[str, torch.Tensor]:
        return self._load(TRAIN_STATE_FILE)


def open_checkpoint(path: str | Path, verify: bool = True) -> Checkpoint:
    """Open one checkpoint directory; missing, truncated or altered files -> CheckpointError."""
    path = Path(path)
    state_path = path / STATE_FILE
    if not path.is_dir():
        raise CheckpointError(f"checkpoint {path} does not exist or is not a directory")
    if not state_path.is_file():
        raise CheckpointError(f"checkpoint file {state_path} is missing (incomplete checkpoint?)")
    try:
        state = json.loads(state_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"checkpoint file {state_path} is not valid JSON: {err}") from err
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"checkpoint file {state_path} is not a {CHECKPOINT_FORMAT} state file")
    files = state.get("files")
    if not isinstance(files, dict) or MODEL_FILE not in files:
        raise CheckpointError(f"checkpoint file {state_path} lists no {MODEL_FILE}")
    for name, info in files.items():
        file = path / name
        if not file.is_file():
            raise CheckpointError(f"checkpoint file {file} is missing")
        size = file.stat().st_size
        if size != info.get("bytes"):
            raise CheckpointError(f"checkpoint file {file} is truncated or altered: {size} bytes, expected {info.get('bytes')}")
        if verify and _sha256(file) != info.get("sha256"):
            raise CheckpointError(f"checkpoint file {file} is corrupt: sha256 does not match {state_path}")
    return Checkpoint(path=path, state=state)


def _numbered(phase_dir: Path, prefix: str) -> list[Path]:
    return sorted(
        (p for p in phase_dir.glob(f"{prefix}-*") if p.is_dir() and (p / STATE_FILE).is_file()),
        key=lambda p: p.name,
    )


def latest_checkpoint(phase_dir: str | Path) -> Path | None:
    """The newest complete `step-*` directory of a phase, or None."""
    found = _numbered(Path(phase_dir), "step")
    return found[-1] if found else None


def best_checkpoint(phase_dir: str | Path) -> Path | None:
    found = _numbered(Path(phase_dir), "best")
    return found[-1] if found else None


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint directory, a phase directory (best, else latest) or a run directory (the most
    trained phase present: hybrid, then supervised, then ssl) -> the checkpoint directory."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint path {path} does not exist")
    if (path / STATE_FILE).is_file() or (path / MODEL_FILE).exists():
        return path
    found = best_checkpoint(path) or latest_checkpoint(path)
    if found:
        return found
    for phase in PHASE_ORDER:
        phase_dir = path / phase
        if phase_dir.is_dir():
            found = best_checkpoint(phase_dir) or latest_checkpoint(phase_dir)
            if found:
                return found
    raise CheckpointError(f"no checkpoint found in {path} (expected state.json, step-*/ or best-*/, or ssl|supervised|hybrid/ phase directories)")
