"""Where and how training runs: device, threads, seeds, bf16 autocast, and the DDP process group.

Under `torchrun` (WORLD_SIZE > 1 in the environment) the process group is started here: gloo on
CPU, nccl on CUDA. Rank 0 alone writes checkpoints, logs and the progress bar.
"""

from __future__ import annotations

import ctypes
import os
import random
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from gaitreid.config import RuntimeConfig


@dataclass
class Runtime:
    device: torch.device
    rank: int = 0
    world_size: int = 1
    bf16: bool = False
    channels_last: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def autocast(self):
        """bf16 autocast for the forward pass when enabled; a no-op otherwise."""
        if not self.bf16:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)


def cpu_has_native_bf16() -> bool:
    """True when the CPU has AMX-BF16 or AVX512-BF16 (bf16 matmuls then beat fp32)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_bf16(setting: str, device: torch.device) -> bool:
    if setting == "on":
        return True
    if setting == "off":
        return False
    return device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16())


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def keep_freed_memory() -> bool:
    """Stop glibc from returning freed memory to the OS (no mmap for big blocks, no trimming).

    A training step allocates and frees gigabytes of activations; by default every large block is
    a fresh mmap whose pages fault in again on each step (seen here as ~30% of CPU time in the
    kernel). With this the process keeps its peak memory and re-uses it. False if not glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_max = -1, -4
    return bool(libc.mallopt(m_mmap_max, 0)) and bool(libc.mallopt(m_trim_threshold, 2**31 - 1))


def setup_runtime(cfg: RuntimeConfig) -> Runtime:
    """Start DDP if launched by torchrun, pick the device, set threads and seeds."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    want_cuda = cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())
    if want_cuda and not torch.cuda.is_available():
        from gaitreid.errors import ConfigError

        raise ConfigError("runtime.device is cuda but no CUDA device is available")
    device = torch.device(f"cuda:{local_rank}" if want_cuda else "cpu")
    if want_cuda:
        torch.cuda.set_device(device)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if want_cuda else "gloo")
        rank, world_size = dist.get_rank(), dist.get_world_size()
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    elif world_size > 1 and device.type == "cpu":
        local = int(os.environ.get("LOCAL_WORLD_SIZE", world_size))
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local))
    if device.type == "cpu":
        keep_freed_memory()  # 1.7x frames per CPU-second for the compact model (bench_models --malloc)
    seed_everything(cfg.seed + rank)
    return Runtime(
        device=device,
        rank=rank,
        world_size=world_size,
        bf16=resolve_bf16(cfg.bf16, device),
        channels_last=cfg.channels_last,
    )


def all_ranks_agree(flag: bool, runtime: Runtime) -> bool:
    """True only if `flag` is true on every rank (used so all ranks stop together)."""
    if not runtime.distributed:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=runtime.device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item() > 0.5)


def broadcast_float(value: float, runtime: Runtime) -> float:
    if not runtime.distributed:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=runtime.device)
    dist.broadcast(t, src=0)
    return float(t.item())
