"""The training loop on a tiny store: each phase lowers its loss, resume after a kill is exact,
the NaN guard stops cleanly, phases chain through the run directory."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gaitreid.config import load_config
from gaitreid.errors import CheckpointError, ConfigError
from gaitreid.training import TrainingDiverged, train_phase
from gaitreid.training import checkpoint as ckpt
from gaitreid.training.data import prepare_store, resolve_split
from gaitreid.training.phases import SSLPhase
from training_support import make_tiny_store, tiny_overrides, write_split


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    store = make_tiny_store(root / "store")
    split = write_split(root / "split.json")
    return store, split


def _config(tiny, steps=6, extra=()):
    store, split = tiny
    return load_config("demo", overrides=tiny_overrides(store.path, split, steps=steps, extra=extra))


def _losses(phase_dir: Path) -> list[float]:
    import json

    lines = [json.loads(line) for line in (phase_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in lines if "loss" in r]


def _run(cfg, phase, run_dir, **kw):
    store = prepare_store(cfg.data)
    return train_phase(cfg, phase, run_dir, store, resolve_split(cfg.data, store), **kw)


@pytest.mark.parametrize("phase", ["ssl", "supervised", "hybrid"])
def test_each_phase_lowers_its_loss(tiny, tmp_path, phase):
    cfg = _config(tiny, steps=12, extra=[f"phase.{phase}.init_from="] if phase != "ssl" else [])
    result = _run(cfg, phase, tmp_path / "run")
    losses = _losses(tmp_path / "run" / phase)
    assert len(losses) == 12 and result.steps == 12
    assert np.mean(losses[-4:]) < np.mean(losses[:4]), losses


def test_phases_chain_through_the_run_directory(tiny, tmp_path):
    cfg = _config(tiny, steps=3)
    run = tmp_path / "run"
    for phase in ("ssl", "supervised", "hybrid"):
        result = _run(cfg, phase, run)
        assert result.checkpoint is not None and result.checkpoint.parent == run / phase
        assert result.best_val_rank1 is not None  # the hold-out validation subjects were scored
    assert "initialised from" not in (run / "ssl" / "metrics.jsonl").read_text()
    assert (run / "config.yaml").is_file()
    state = ckpt.open_checkpoint(ckpt.resolve_checkpoint(run)).state
    assert state["phase"] == "hybrid" and state["model_config"]["num_classes"] == 5
    # only training subjects get labels: 8 subjects, 2 test (fraction 0.25), 1 held out for validation
    assert state["identities"] == ["001", "002", "003", "004", "005"]


def test_supervised_starts_from_the_ssl_encoder(tiny, tmp_path):
    run = tmp_path / "run"
    _run(_config(tiny, steps=2), "ssl", run)
    # a vanishing learning rate: the supervised weights stay the SSL weights (classifier aside)
    _run(_config(tiny, steps=1, extra=["phase.supervised.lr=1e-12", "phase.supervised.freeze_early_steps=0"]), "supervised", run)
    ssl_w = _weights(run / "ssl")
    sup_w = _weights(run / "supervised")
    assert "neck.classifier" in sup_w and "neck.classifier" not in ssl_w
    for key, value in ssl_w.items():
        if value.is_floating_point() and "running" not in key:
            assert torch.allclose(value, sup_w[key], atol=1e-6), key


def _weights(phase_dir: Path) -> dict[str, torch.Tensor]:
    return ckpt.open_checkpoint(ckpt.latest_checkpoint(phase_dir)).model_state()


@pytest.mark.parametrize("phase", ["ssl", "hybrid"])
def test_resume_after_kill_gives_the_same_weights(tiny, tmp_path, phase):
    cfg = _config(tiny, steps=7, extra=[f"phase.{phase}.init_from=", "phase.ssl.eval_every=3"] if phase == "hybrid" else ["phase.ssl.eval_every=3"])
    _run(cfg, phase, tmp_path / "straight")
    _run(cfg, phase, tmp_path / "killed", stop_after=4)  # stops after step 4: the newest checkpoint is step 3
    assert ckpt.latest_checkpoint(tmp_path / "killed" / phase).name == "step-00000003"
    with pytest.raises(ConfigError, match="--resume"):
        _run(cfg, phase, tmp_path / "killed")
    _run(cfg, phase, tmp_path / "killed", resume=True)
    a, b = _weights(tmp_path / "straight" / phase), _weights(tmp_path / "killed" / phase)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_nan_guard_stops_and_keeps_last_good_checkpoint(tiny, tmp_path, monkeypatch):
    cfg = _config(tiny, steps=8)
    original = SSLPhase.loss
    calls = {"n": 0}

    def poisoned(self, outputs, batch):
        calls["n"] += 1
        loss, stats = original(self, outputs, batch)
        return (loss * float("nan") if calls["n"] == 5 else loss), stats

    monkeypatch.setattr(SSLPhase, "loss", poisoned)
    with pytest.raises(TrainingDiverged, match=r"NaN/inf at step 5.*step-00000003"):
        _run(cfg, "ssl", tmp_path / "run")
    latest = ckpt.latest_checkpoint(tmp_path / "run" / "ssl")
    assert latest.name == "step-00000003"
    weights = ckpt.open_checkpoint(latest).model_state()
    assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())


def test_next_phase_without_previous_checkpoint_is_a_clear_error(tiny, tmp_path):
    cfg = _config(tiny, steps=2)
    with pytest.raises(CheckpointError, match="no 'ssl' checkpoint"):
        _run(cfg, "supervised", tmp_path / "run")


def test_lr_schedule_warmup_and_cosine():
    from gaitreid.training.trainer import lr_at

    cfg = load_config("demo", overrides=["phase.ssl.steps=100", "phase.ssl.lr=0.1", "phase.ssl.schedule.warmup_steps=10",
                                         "phase.ssl.schedule.min_lr_ratio=0.0"]).phase.ssl
    assert lr_at(0, cfg) == pytest.approx(0.01)
    assert lr_at(9, cfg) == pytest.approx(0.1)
    assert lr_at(10, cfg) == pytest.approx(0.1)
    assert lr_at(55, cfg) == pytest.approx(0.05)
    assert lr_at(99, cfg) < 0.001


@pytest.mark.slow
def test_resume_after_a_real_sigkill(tiny, tmp_path):
    """The CLI killed with SIGKILL mid-phase, then `--resume`: same weights as a run never killed."""
    import os
    import signal
    import subprocess
    import sys
    import time

    store, split = tiny
    sets = [a for o in tiny_overrides(store.path, split, steps=30, extra=["phase.ssl.checkpoint_every=2"]) for a in ("--set", o)]
    base = [sys.executable, "-m", "gaitreid", "train", "ssl", "--preset", "demo", *sets]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(base + ["--run-dir", str(tmp_path / "straight")], check=True, capture_output=True, env=env, timeout=300)
    proc = subprocess.Popen(base + ["--run-dir", str(tmp_path / "killed")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 120
    while not (tmp_path / "killed" / "ssl" / "step-00000010").exists() and time.time() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    latest = ckpt.latest_checkpoint(tmp_path / "killed" / "ssl")
    assert latest is not None and ckpt.open_checkpoint(latest).step < 30
    subprocess.run(base + ["--run-dir", str(tmp_path / "killed"), "--resume"], check=True, capture_output=True, env=env, timeout=300)
    a, b = _weights(tmp_path / "straight" / "ssl"), _weights(tmp_path / "killed" / "ssl")
    for key in a:
        assert torch.equal(a[key], b[key]), key
    steps = [json.loads(line)["step"] for line in (tmp_path / "killed" / "ssl" / "metrics.jsonl").read_text().splitlines()
             if "loss" in json.loads(line)]
    assert steps == sorted(set(steps)) == list(range(1, 31))
