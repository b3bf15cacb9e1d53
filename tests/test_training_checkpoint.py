"""Checkpoints (atomic directories, verified on load) and the inference Embedder built on them."""

import json

import numpy as np
import pytest
import torch

from gaitreid.config import load_config
from gaitreid.errors import CheckpointError, DataError
from gaitreid.inference import Embedder
from gaitreid.training import checkpoint as ckpt
from gaitreid.training import train_phase
from gaitreid.training.data import prepare_store, resolve_split
from training_support import make_tiny_store, tiny_overrides, write_split


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny run directory with a supervised checkpoint (ssl -> supervised, 2 steps each)."""
    root = tmp_path_factory.mktemp("ckpt")
    store = make_tiny_store(root / "store", subjects=6)
    cfg = load_config("demo", overrides=tiny_overrides(store.path, write_split(root / "split.json"), steps=2))
    split = resolve_split(cfg.data, store)
    for phase in ("ssl", "supervised"):
        train_phase(cfg, phase, root / "run", store, split)
    return root / "run", store


def test_optimizer_state_round_trip():
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.01)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    tensors, meta = ckpt.split_optimizer_state(opt.state_dict())
    meta = json.loads(json.dumps(meta))  # what state.json holds
    again = torch.optim.AdamW(model.parameters(), lr=0.5)
    again.load_state_dict(ckpt.join_optimizer_state(tensors, meta))
    for a, b in zip(opt.state_dict()["state"].values(), again.state_dict()["state"].values()):
        for name in a:
            assert torch.equal(torch.as_tensor(a[name]), torch.as_tensor(b[name]))
    assert again.param_groups[0]["lr"] == 0.01


def test_rng_round_trip():
    meta, tensors = ckpt.capture_rng()
    meta = json.loads(json.dumps(meta))
    expected = (np.random.rand(), torch.rand(2), __import__("random").random())
    ckpt.restore_rng(meta, tensors)
    got = (np.random.rand(), torch.rand(2), __import__("random").random())
    assert expected[0] == got[0] and torch.equal(expected[1], got[1]) and expected[2] == got[2]


def test_run_directory_layout_and_resolution(trained):
    run, _ = trained
    assert (run / "config.yaml").is_file()
    for phase in ("ssl", "supervised"):
        latest = ckpt.latest_checkpoint(run / phase)
        assert latest.name == "step-00000002"
        assert {"model.safetensors", "train_state.safetensors", "state.json"} <= {p.name for p in latest.iterdir()}
        assert (run / phase / "metrics.jsonl").is_file()
    assert (ckpt.latest_checkpoint(run / "ssl") / "head.safetensors").is_file()  # SSL projection MLP
    assert not list(run.glob("*/.*tmp*"))  # no leftovers of the atomic writes
    assert ckpt.resolve_checkpoint(run).parent.name == "supervised"
    state = json.loads((ckpt.resolve_checkpoint(run) / "state.json").read_text())
    assert state["format"] == ckpt.CHECKPOINT_FORMAT and state["config"]["name"] == "demo"


def _copy_checkpoint(trained, tmp_path):
    import shutil

    run, _ = trained
    dst = tmp_path / "copy"
    shutil.copytree(ckpt.resolve_checkpoint(run), dst)
    return dst


def test_truncated_weights_are_a_checkpoint_error_naming_the_file(trained, tmp_path):
    path = _copy_checkpoint(trained, tmp_path)
    data = (path / "model.safetensors").read_bytes()
    (path / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"model\.safetensors.*truncated"):
        Embedder.from_checkpoint(path)


def test_altered_weights_are_a_checkpoint_error(trained, tmp_path):
    path = _copy_checkpoint(trained, tmp_path)
    data = bytearray((path / "model.safetensors").read_bytes())
    data[-5] ^= 0xFF
    (path / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"model\.safetensors.*corrupt"):
        Embedder.from_checkpoint(path)


def test_missing_or_bad_state_is_a_checkpoint_error(trained, tmp_path):
    path = _copy_checkpoint(trained, tmp_path)
    (path / "state.json").write_text("{ not json")
    with pytest.raises(CheckpointError, match=r"state\.json"):
        Embedder.from_checkpoint(path)
    (path / "state.json").unlink()
    with pytest.raises(CheckpointError, match=r"state\.json is missing"):
        ckpt.open_checkpoint(path)
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        Embedder.from_checkpoint(tmp_path)


def test_embedder_is_frame_order_invariant_and_any_length(trained):
    run, store = trained
    embedder = Embedder.from_checkpoint(run)
    assert not embedder.model.training
    assert (embedder.pretreat.height, embedder.pretreat.width) == (32, 22)
    assert len(embedder.fingerprint) == 16 and embedder.fingerprint == Embedder.from_checkpoint(run).fingerprint
    frames = np.ascontiguousarray(store.frames(0))
    emb = embedder.embed(frames)
    c, p = embedder.model.embedding_dim, embedder.model.num_parts
    assert emb.shape == (c, p) and emb.dtype == np.float32
    shuffled = frames[np.random.default_rng(0).permutation(len(frames))]
    np.testing.assert_allclose(embedder.embed(shuffled), emb, rtol=1e-5, atol=1e-5)
    assert embedder.embed(frames[:1]).shape == (c, p)
    long = np.concatenate([frames] * 40)  # ~500 frames
    np.testing.assert_allclose(embedder.embed(long), emb, rtol=1e-5, atol=1e-5)  # max pooling: repeats change nothing
    embedder.max_chunk_frames = 7  # the chunked path for long sequences gives the same embedding
    np.testing.assert_allclose(embedder.embed(long), emb, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(embedder.embed(shuffled), emb, rtol=1e-5, atol=1e-5)


def test_embed_store_matches_one_at_a_time(trained):
    run, store = trained
    embedder = Embedder.from_checkpoint(run)
    idx = np.array([0, 5, 3, 11, 7])
    batch = embedder.embed_store(store, idx, batch_size=4)
    single = np.stack([embedder.embed(np.asarray(store.frames(i))) for i in idx])
    np.testing.assert_allclose(batch, single, rtol=1e-4, atol=1e-5)


def test_embedder_rejects_wrong_input(trained):
    run, _ = trained
    embedder = Embedder.from_checkpoint(run)
    with pytest.raises(DataError, match="expects 32x22"):
        embedder.embed(np.zeros((5, 64, 44), np.uint8))
    with pytest.raises(DataError, match="no frames"):
        embedder.embed(np.zeros((0, 32, 22), np.uint8))
    with pytest.raises(DataError, match="uint8"):
        embedder.embed(np.zeros((3, 32, 22), np.float32))


@pytest.mark.parametrize("name", ["gaitset-compact", "frame-cnn"])
def test_long_sequences_in_chunks_equal_one_pass(name):
    from gaitreid.data.pretreat import PretreatConfig
    from gaitreid.models import ModelConfig, build_model

    torch.manual_seed(0)
    cfg = ModelConfig(name=name, widths=(4, 8, 8), bins=(1,) if name == "frame-cnn" else (1, 2), embedding_dim=8, in_height=32, in_width=22)
    embedder = Embedder(build_model(cfg), cfg, PretreatConfig(height=32, width=22), fingerprint="test")
    frames = (np.random.default_rng(1).random((50, 32, 22)) > 0.5).astype(np.uint8) * 255
    whole = embedder.embed(frames)
    embedder.max_chunk_frames = 8
    np.testing.assert_allclose(embedder.embed(frames), whole, rtol=1e-5, atol=1e-5)
