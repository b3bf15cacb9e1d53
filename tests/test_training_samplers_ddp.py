"""Samplers (deterministic, disjoint per rank) and a two-process DDP run through torchrun."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gaitreid.training.samplers import IdentityBalancedSampler, SequenceSampler
from training_support import make_tiny_store, tiny_overrides, write_split

REPO = Path(__file__).resolve().parents[1]


def test_sequence_sampler_ranks_are_disjoint_and_deterministic():
    idx = np.arange(100, 140)
    ranks = [SequenceSampler(idx, 5, seed=3, rank=r, world_size=2) for r in range(2)]
    for step in range(ranks[0].steps_per_epoch):
        a, b = ranks[0].batch(step), ranks[1].batch(step)
        assert len(a) == len(b) == 5 and not set(a) & set(b)
    epoch0 = np.concatenate([ranks[0].batch(s) for s in range(ranks[0].steps_per_epoch)])
    assert len(set(epoch0)) == len(epoch0)  # no repeats inside an epoch
    again = SequenceSampler(idx, 5, seed=3, rank=0, world_size=2)
    assert np.array_equal(again.batch(7), ranks[0].batch(7))
    assert not np.array_equal(SequenceSampler(idx, 5, seed=4).batch(0), SequenceSampler(idx, 5, seed=3).batch(0))


def test_identity_sampler_gives_p_identities_of_k_each_disjoint_across_ranks():
    labels = np.repeat(np.arange(10), 6)
    labels[-4:] = 9  # identity 9 has more; identity 8 fewer than K below
    idx = np.arange(len(labels)) + 1000
    samplers = [IdentityBalancedSampler(idx, labels, p=2, k=4, seed=1, rank=r, world_size=2) for r in range(2)]
    for step in range(6):
        (sa, la), (sb, lb) = samplers[0].batch_with_labels(step), samplers[1].batch_with_labels(step)
        for seqs, labs in ((sa, la), (sb, lb)):
            assert len(seqs) == 8 and len(set(labs)) == 2
            assert all(labels[s - 1000] == lab for s, lab in zip(seqs, labs))
        assert not set(la) & set(lb)
    with pytest.raises(ValueError, match="cannot fill"):
        IdentityBalancedSampler(idx, labels, p=6, k=2, world_size=2)


def test_two_process_ddp_run(tmp_path):
    torchrun = Path(sys.executable).parent / "torchrun"
    if not torchrun.exists():
        pytest.skip(f"{torchrun} not found")
    store = make_tiny_store(tmp_path / "store", subjects=8)
    overrides = tiny_overrides(store.path, write_split(tmp_path / "split.json"), steps=3,
                               extra=["phase.ssl.batch_sequences=4", "phase.supervised.batch_p=2"])
    cmd = [str(torchrun), "--nproc_per_node=2", "--standalone", "-m", "gaitreid"]
    sets = [a for o in overrides for a in ("--set", o)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    # one launch: `run` trains ssl then supervised (hybrid off) on two processes
    done = subprocess.run(cmd + ["run", "--preset", "demo", "--run-dir", str(tmp_path / "run"), "--skip-eval", *sets,
                                 "--set", "phase.hybrid.steps=0"],
                          capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    for phase in ("ssl", "supervised"):
        assert done.stdout.count(f"{phase}: 3 steps") == 1, done.stdout  # printed once, by rank 0
        state = json.loads((tmp_path / "run" / phase / "step-00000003" / "state.json").read_text())
        assert state["world_size"] == 2
    assert not (tmp_path / "run" / "hybrid").exists()
