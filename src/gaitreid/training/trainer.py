"""The one training loop. A phase (see `phases.py`) supplies the batch, the head and the loss;
everything else is here: optimiser and schedule, bf16 autocast, gradient clipping, the NaN guard,
validation, checkpoints, resume, metrics and the progress bar, DDP.

    result = train_phase(config, "ssl", run_dir, store, split)

A phase writes into `run_dir/<phase>/`: `step-*/` checkpoints (the newest two), `best-*/` (the best
validation rank-1), `metrics.jsonl`. With `resume=True` it continues from the newest `step-*`
exactly: weights, optimiser, RNG states, and the step (the samplers derive each step's data from
seed + step, so no data-loader state is needed).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gaitreid.config import PhaseConfig, RunConfig, save_config
from gaitreid.errors import CheckpointError, ConfigError, GaitReidError
from gaitreid.training import checkpoint as ckpt
from gaitreid.training.data import ClipBatcher, SubjectSplit
from gaitreid.training.monitor import rank1_monitor
from gaitreid.training.phases import Batch, Phase, build_phase
from gaitreid.training.runtime import Runtime, all_ranks_agree, broadcast_float, setup_runtime
from gaitreid.training.samplers import step_rng

log = logging.getLogger(__name__)

KEEP_STEP_CHECKPOINTS = 2


class TrainingDiverged(GaitReidError):
    """The loss or the gradients became NaN/inf; the last good checkpoint is left untouched."""


@dataclass
class PhaseResult:
    phase: str
    steps: int
    checkpoint: Path | None  # what the next phase / inference should use (best, else latest)
    last_loss: float | None
    best_val_rank1: float | None
    wall_time_s: float
    frames_per_s: float


def lr_at(step: int, cfg: PhaseConfig) -> float:
    """Learning rate for `step` (0-based): linear warm-up, then cosine / step / constant."""
    sched = cfg.schedule
    if sched.warmup_steps > 0 and step < sched.warmup_steps:
        return cfg.lr * (step + 1) / sched.warmup_steps
    if sched.kind == "cosine":
        span = max(1, cfg.steps - sched.warmup_steps)
        t = min(1.0, (step - sched.warmup_steps) / span)
        floor = cfg.lr * sched.min_lr_ratio
        return floor + (cfg.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * t))
    if sched.kind == "step":
        return cfg.lr * sched.gamma ** sum(step >= m for m in sched.milestones)
    return cfg.lr


class PhaseNet(nn.Module):
    """The model plus the phase's training-only head, as one module (what DDP wraps)."""

    def __init__(self, model: nn.Module, head: nn.Module | None):
        super().__init__()
        self.model = model
        self.head = head

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = self.model(x)
        if self.head is not None:
            out["projections"] = self.head(out["embeddings"])  # [n, d]
        return out


class MetricsLog:
    """`metrics.jsonl` (one JSON object per line) and TensorBoard scalars when it is installed."""

    def __init__(self, path: Path, enabled: bool):
        self.path = path
        self.enabled = enabled
        self.tb = None
        if enabled:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(path.parent / "tensorboard"))
            except Exception:  # tensorboard is optional
                self.tb = None

    def write(self, record: dict) -> None:
        if not self.enabled:
            return
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.tb is not None:
            for key, value in record.items():
                if isinstance(value, (int, float)) and key not in ("step",):
                    self.tb.add_scalar(f"{record.get('phase', 'train')}/{key}", value, record.get("step", 0))

    def drop_after(self, step: int) -> None:
        """Forget records of steps after `step` (kept: earlier ones, and unreadable lines as they are)."""
        if not self.path.is_file():
            return
        kept = []
        for line in self.path.read_text().splitlines():
            try:
                if int(json.loads(line).get("step", 0)) > step:
                    continue
            except (ValueError, TypeError, AttributeError):
                pass
            kept.append(line)
        tmp = self.path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(f"{line}\n" for line in kept))
        tmp.replace(self.path)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def _load_matching(model: nn.Module, weights: dict[str, torch.Tensor], source: Path) -> list[str]:
    """Copy the tensors whose names and shapes match; returns the model keys left as initialised.

    Only classifier weights may be missing (a new classifier for phase 2); anything else missing
    means the checkpoint is of another model, and that is a CheckpointError.
    """
    own = model.state_dict()
    matched = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    missing = [k for k in own if k not in matched]
    bad = [k for k in missing if "classifier" not in k]
    if bad:
        raise CheckpointError(
            f"checkpoint {source / ckpt.MODEL_FILE} does not fit this model (e.g. '{bad[0]}' missing or of another shape); "
            "was it trained with another model config?"
        )
    model.load_state_dict(matched, strict=False)
    return missing


def _phase_init_checkpoint(run_dir: Path, phase_cfg: PhaseConfig, init: str | Path | None) -> Path | None:
    if init:
        return ckpt.resolve_checkpoint(init)
    source = getattr(phase_cfg, "init_from", "")
    if not source:
        return None
    phase_dir = run_dir / source
    found = ckpt.best_checkpoint(phase_dir) or ckpt.latest_checkpoint(phase_dir)
    if found is None:
        raise CheckpointError(
            f"no '{source}' checkpoint in {phase_dir}: run that phase first (gaitreid train {source} --run-dir {run_dir}), "
            f"pass --init CHECKPOINT, or set init_from to '' to start from scratch"
        )
    return found


def _validation_indices(config: RunConfig, store, subjects: list[str]) -> np.ndarray:
    if not subjects:
        return np.zeros(0, dtype=np.int64)
    if config.validation.max_subjects > 0:
        subjects = subjects[: config.validation.max_subjects]
    return store.indices(subjects=subjects, views=config.validation.views or None)


def _validate(model: nn.Module, config: RunConfig, store, indices: np.ndarray, runtime: Runtime) -> dict[str, float]:
    from gaitreid.inference.embedder import Embedder

    was_training = model.training
    embedder = Embedder(model, model.config, store.pretreat, fingerprint="training", device=str(runtime.device))
    try:
        emb = embedder.embed_store(store, indices, batch_size=config.validation.batch_size, max_frames=config.validation.max_frames)
    finally:
        model.train(was_training)
    return rank1_monitor(emb, [store.keys[i] for i in indices])


def _autocast_outputs(out: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.float() for k, v in out.items()}


def train_phase(
    config: RunConfig,
    phase_name: str,
    run_dir: str | Path,
    store,
    split: SubjectSplit,
    *,
    resume: bool = False,
    init: str | Path | None = None,
    stop_after: int | None = None,
    runtime: Runtime | None = None,
) -> PhaseResult:
    """Train one phase; returns where its checkpoint is. `stop_after` ends early (tests, kill drills)."""
    from gaitreid.models import build_model

    run_dir = Path(run_dir)
    phase_dir = run_dir / phase_name
    phase_cfg: PhaseConfig = getattr(config.phase, phase_name)
    runtime = runtime or setup_runtime(config.runtime)
    main = runtime.is_main
    if main:
        save_config(config, run_dir / "config.yaml")

    # --- data: training subjects only; labels are positions in the sorted training subject list
    train_idx = store.indices(subjects=split.train)
    if len(train_idx) == 0:
        raise ConfigError(f"no training sequences for subjects {split.train[:3]}... in {store.path}")
    label_of = {s: i for i, s in enumerate(split.train)}
    train_labels = np.array([label_of[store.keys[i].subject] for i in train_idx], dtype=np.int64)
    val_idx = _validation_indices(config, store, split.validation)
    phase: Phase = build_phase(phase_name, phase_cfg, ClipBatcher(store, config.data.clip_length))
    try:
        phase.make_sampler(train_idx, train_labels, config.runtime.seed, runtime.rank, runtime.world_size)
    except ValueError as err:
        raise ConfigError(f"phase {phase_name}: {err}") from err

    # --- model and head
    model_cfg = dataclasses.replace(config.model, num_classes=len(split.train) if phase.uses_labels else 0)
    model = build_model(model_cfg)
    head = phase.head(model)
    net = PhaseNet(model, head).to(runtime.device)
    if runtime.channels_last:
        model.use_channels_last()
    params = [p for p in net.parameters()]
    if phase_cfg.optimizer == "sgd":
        optimizer = torch.optim.SGD(params, lr=phase_cfg.lr, momentum=phase_cfg.momentum, weight_decay=phase_cfg.weight_decay, nesterov=True)
    else:
        optimizer = torch.optim.AdamW(params, lr=phase_cfg.lr, weight_decay=phase_cfg.weight_decay)

    # --- where to start: a resumed checkpoint of this phase, or the previous phase's weights
    start_step = 0
    best = {"val_rank1": None, "step": None}
    latest = ckpt.latest_checkpoint(phase_dir)
    if latest is not None and not resume:
        raise ConfigError(f"{phase_dir} already holds checkpoints: add --resume to continue, or use another --run-dir")
    if latest is not None:
        state = ckpt.open_checkpoint(latest)
        missing = _load_matching(model, state.model_state(), state.path)
        if missing:
            raise CheckpointError(f"checkpoint {state.path / ckpt.MODEL_FILE} lacks {missing[0]}")
        if head is not None:
            head.load_state_dict(state.head_state())
        tensors = state.train_tensors()
        optimizer.load_state_dict(ckpt.join_optimizer_state(tensors, state.state["optimizer"]))
        ckpt.restore_rng(state.state.get("rng", {}), tensors)
        if runtime.rank > 0:
            torch.manual_seed(config.runtime.seed + 7919 * runtime.rank + state.step)
        start_step = state.step
        best = dict(state.state.get("best") or best)
        if main:
            log.info("%s: resuming from %s (step %d of %d)", phase_name, state.path, start_step, phase_cfg.steps)
    else:
        source = _phase_init_checkpoint(run_dir, phase_cfg, init)
        if source is not None:
            weights = ckpt.open_checkpoint(source).model_state()
            _load_matching(model, weights, source)
            if main:
                log.info("%s: initialised from %s", phase_name, source)

    phase.prepare_model(model)
    if runtime.distributed:
        from torch.nn.parallel import DistributedDataParallel

        train_net = DistributedDataParallel(
            net,
            device_ids=[runtime.device.index] if runtime.device.type == "cuda" else None,
            find_unused_parameters=phase.needs_unused_parameter_search(),
        )
    else:
        train_net = net
    net.train()

    metrics = MetricsLog(phase_dir / "metrics.jsonl", enabled=main)
    if main and start_step > 0:
        metrics.drop_after(start_step)  # a killed run logged steps that will now be redone
    pretreat = store.pretreat.to_dict()

    def save(prefix: str, step: int, extra: dict) -> Path | None:
        if not main:
            return None
        opt_tensors, opt_meta = ckpt.split_optimizer_state(optimizer.state_dict())
        rng_meta, rng_tensors = ckpt.capture_rng()
        state = {
            "phase": phase_name,
            "step": step,
            "total_steps": phase_cfg.steps,
            "model_config": model_cfg.to_dict() if hasattr(model_cfg, "to_dict") else dataclasses.asdict(model_cfg),
            "pretreat": pretreat,
            "identities": list(split.train) if phase.uses_labels else [],
            "optimizer": opt_meta,
            "scheduler": {"kind": phase_cfg.schedule.kind, "step": step, "lr": lr_at(max(step - 1, 0), phase_cfg)},
            "rng": rng_meta,
            "best": best,
            "metrics": extra,
            "config": config.to_dict(),
            "world_size": runtime.world_size,
        }
        path = ckpt.save_checkpoint(
            phase_dir / ckpt.checkpoint_name(prefix, step),
            model_state=model.state_dict(),
            head_state=head.state_dict() if head is not None else None,
            train_tensors={**opt_tensors, **rng_tensors},
            state=state,
        )
        ckpt.prune_checkpoints(phase_dir, prefix, KEEP_STEP_CHECKPOINTS if prefix == "step" else 1)
        return path

    def evaluate(step: int) -> dict[str, float]:
        result = {}
        if len(val_idx) and main:
            result = _validate(model, config, store, val_idx, runtime)
        value = broadcast_float(result.get("val_rank1", float("nan")), runtime)
        if not math.isnan(value):
            result["val_rank1"] = value
            if best["val_rank1"] is None or value > best["val_rank1"]:
                best.update(val_rank1=value, step=step)
                save("best", step, result)
            metrics.write({"phase": phase_name, "step": step, **result, "best_val_rank1": best["val_rank1"], "wall_time": time.time()})
        return result

    total = phase_cfg.steps
    bar = None
    if main and config.runtime.progress and start_step < total:
        from tqdm import tqdm

        bar = tqdm(total=total, initial=start_step, desc=phase_name, unit="step", dynamic_ncols=True)

    t_start = time.time()
    t_window, frames_window, frames_total = time.time(), 0, 0
    last_loss: float | None = None
    last_saved = start_step if latest is not None else None
    step = start_step
    try:
        for step in range(start_step, total):
            if stop_after is not None and step >= stop_after:
                break
            phase.before_step(model, step)
            rng = step_rng(config.runtime.seed, 4, step, runtime.rank)
            batch = phase.batch(step, rng)
            x = batch.clips.to(runtime.device, non_blocking=True)  # float [n, s, h, w]
            labels = batch.labels.to(runtime.device) if batch.labels is not None else None
            with runtime.autocast():
                out = train_net(x)
            loss, stats = phase.loss(_autocast_outputs(out), Batch(clips=batch.clips, labels=labels))
            if not all_ranks_agree(bool(torch.isfinite(loss.detach())), runtime):
                raise TrainingDiverged(_diverged_message(phase_name, step, "loss", phase_dir))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            clip = phase_cfg.grad_clip if phase_cfg.grad_clip > 0 else float("inf")
            grad_norm = torch.nn.utils.clip_grad_norm_([p for p in params if p.grad is not None], clip)
            if not all_ranks_agree(bool(torch.isfinite(grad_norm)), runtime):
                raise TrainingDiverged(_diverged_message(phase_name, step, "gradient norm", phase_dir))
            lr = lr_at(step, phase_cfg)
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.step()

            done = step + 1
            last_loss = float(loss.detach())
            frames_window += batch.frames * runtime.world_size
            frames_total += batch.frames * runtime.world_size
            if bar is not None:
                bar.update(1)
            if done % phase_cfg.log_every == 0 or done == total:
                now = time.time()
                fps = frames_window / max(now - t_window, 1e-9)
                t_window, frames_window = now, 0
                record = {"phase": phase_name, "step": done, "loss": last_loss, "lr": lr, "frames_per_s": round(fps, 1),
                          "grad_norm": float(grad_norm), **{k: float(v) for k, v in stats.items()}, "wall_time": now}
                metrics.write(record)
                if bar is not None:
                    bar.set_postfix(loss=f"{last_loss:.4f}", lr=f"{lr:.2e}", fps=f"{fps:.0f}")
                elif main:
                    log.info("%s step %d/%d loss %.4f lr %.2e %.0f frames/s", phase_name, done, total, last_loss, lr, fps)
            if phase_cfg.eval_every > 0 and done % phase_cfg.eval_every == 0 and done < total:
                evaluate(done)
            if done % phase_cfg.checkpoint_every == 0 and done < total:
                save("step", done, {"loss": last_loss})
                last_saved = done
        else:
            step = total
        finished = stop_after is None or stop_after >= total
        if finished and last_saved != total:
            final_eval = evaluate(total)
            save("step", total, {"loss": last_loss, **final_eval})
    finally:
        if bar is not None:
            bar.close()
        metrics.close()

    if runtime.distributed:
        torch.distributed.barrier()  # the final checkpoint (rank 0) exists before any rank moves on
    elapsed = time.time() - t_start
    chosen = ckpt.best_checkpoint(phase_dir) or ckpt.latest_checkpoint(phase_dir) if main else None
    return PhaseResult(
        phase=phase_name,
        steps=min(step, total) if stop_after is not None else total,
        checkpoint=chosen,
        last_loss=last_loss,
        best_val_rank1=best["val_rank1"],
        wall_time_s=elapsed,
        frames_per_s=frames_total / max(elapsed, 1e-9),
    )


def _diverged_message(phase: str, step: int, what: str, phase_dir: Path) -> str:
    last = ckpt.latest_checkpoint(phase_dir)
    kept = f"the last good checkpoint is {last}" if last else "no checkpoint was written yet"
    return (
        f"phase {phase} diverged: the {what} became NaN/inf at step {step + 1}; training stopped, {kept}. "
        f"Lower phase.{phase}.lr, raise the warm-up, or keep gradient clipping on (phase.{phase}.grad_clip)."
    )
