"""`gaitreid evaluate` end to end: a tiny store, an (untrained) tiny checkpoint, the report."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from gaitreid.cli.main import main
from gaitreid.data.layout import CASIA_B_CONDITIONS, SequenceKey
from gaitreid.data.pretreat import PretreatConfig
from gaitreid.data.store import StoreWriter

VIEWS = ("000", "090", "180")


def write_store(path, height=32, width=22, subjects=4):
    rng = np.random.default_rng(0)
    with StoreWriter(path, PretreatConfig(height=height, width=width), source="tests/test_eval_cli") as writer:
        for s in range(1, subjects + 1):
            for cond in CASIA_B_CONDITIONS:
                for view in VIEWS:
                    frames = np.zeros((8, height, width), dtype=np.uint8)
                    top = 2 + s
                    frames[:, top:height - 2, 6:6 + 2 * s] = 255  # each subject a different width
                    frames[rng.random(frames.shape) < 0.02] = 255
                    writer.add(SequenceKey(f"{s:03d}", cond, view), frames)
    return path


def write_checkpoint(run_dir, height=32, width=22):
    from gaitreid.models import ModelConfig, build_model
    from gaitreid.training.checkpoint import save_checkpoint

    torch.manual_seed(0)
    cfg = ModelConfig(name="gaitset-compact", widths=(8, 16, 32), bins=(1, 2), embedding_dim=16,
                      in_height=height, in_width=width)
    model = build_model(cfg)
    state = {"phase": "supervised", "step": 1, "model_config": json.loads(json.dumps(dataclasses.asdict(cfg))),
             "pretreat": PretreatConfig(height=height, width=width).to_dict(),
             "config": {"data": {"split": "casia-b/dev"}}}
    ckpt = save_checkpoint(run_dir / "supervised" / "step-00000001", model_state=model.state_dict(), state=state)
    (run_dir / "supervised" / "metrics.jsonl").write_text(
        "".join(json.dumps({"phase": "supervised", "step": s, "loss": 1.0 / s}) + "\n" for s in (1, 2, 3))
    )
    return ckpt


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("evalcli")
    split = root / "split.json"
    split.write_text(json.dumps({"dataset": "tiny", "splits": {"all": {"train": ["001"], "test": ["002-004"]}}}))
    return write_store(root / "store"), write_checkpoint(root / "run"), split, root


def test_evaluate_writes_the_report(tiny, capsys):
    store, ckpt, split, root = tiny
    rc = main(["evaluate", str(root / "run"), "--data", str(store), "--split", str(split)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "CASIA-B rank-1" in out and "NM" in out and "GEI baseline rank-1" in out
    metrics = json.loads((root / "run" / "metrics.json").read_text())  # default --out: the run directory
    assert metrics["subjects"] == ["002", "003", "004"] and metrics["info"]["fingerprint"]
    page = (root / "run" / "report.html").read_text()
    assert "Training curves" in page and "No training log" not in page


def test_evaluate_checkpoint_dir_with_out_and_cosine(tiny, tmp_path):
    store, ckpt, split, _ = tiny
    rc = main(["evaluate", str(ckpt), "--data", str(store), "--split", f"{split}#all", "--metric", "cosine",
               "--out", str(tmp_path / "eval"), "--no-baseline"])
    assert rc == 0
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["metric"] == "cosine" and "baseline" not in metrics


def test_user_errors_are_one_line(tiny, tmp_path, capsys):
    store, ckpt, split, root = tiny
    # the run's own split (casia-b/dev) has no test subject in this store
    assert main(["evaluate", str(ckpt), "--data", str(store), "--out", str(tmp_path)]) == 2
    assert "none of the test subjects of split 'casia-b/dev'" in capsys.readouterr().err
    small = write_store(tmp_path / "small-store", height=16, width=12, subjects=2)
    assert main(["evaluate", str(ckpt), "--data", str(small), "--split", str(split)]) == 2
    assert "checkpoint expects 32x22" in capsys.readouterr().err
    assert main(["evaluate", str(ckpt), "--data", str(store), "--split", "nope"]) == 2
    assert "unknown split" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "missing"), "--data", str(store)]) == 2
