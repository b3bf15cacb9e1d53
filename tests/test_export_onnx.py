"""ONNX export: onnxruntime's embeddings match PyTorch's at different sequence lengths."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gaitreid.cli.main import main
from gaitreid.errors import GaitReidError
from gaitreid.export.onnx import OnnxEmbedder, export_onnx, verify_onnx
from gaitreid.inference import Embedder
from use_helpers import make_checkpoint, person_frames


@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    return Embedder.from_checkpoint(make_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny"))


def test_onnx_matches_pytorch_at_two_sequence_lengths(embedder, tmp_path):
    path = export_onnx(embedder, tmp_path / "tiny.onnx")
    runtime = OnnxEmbedder(path)
    rng = np.random.default_rng(0)
    h, w = embedder.frame_shape
    for length in (30, 11):  # traced at 30: 11 only works if the frame axis is really dynamic
        frames = (rng.random((length, h, w)) > 0.6).astype(np.uint8) * 255
        expected = embedder.embed(frames)
        got = runtime.embed(frames)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
    batch = (rng.random((3, 5, h, w)) > 0.5).astype(np.float32)  # dynamic batch too
    with torch.inference_mode():
        expected = embedder.model(torch.from_numpy(batch))["embeddings"].numpy()
    np.testing.assert_allclose(runtime.embed_batch(batch), expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
    assert runtime.metadata["gaitreid_fingerprint"] == embedder.fingerprint
    assert verify_onnx(embedder, path) < 1e-4


@pytest.mark.parametrize("name, widths, bins", [("resnet9", (4, 4, 8, 8), (4,)), ("frame-cnn", (4, 8), (1,))])
def test_other_architectures_export(tmp_path, name, widths, bins):
    from gaitreid.data.pretreat import PretreatConfig
    from gaitreid.models import ModelConfig, build_model

    cfg = ModelConfig(name=name, widths=widths, bins=bins, embedding_dim=8, in_height=32, in_width=22)
    embedder = Embedder(build_model(cfg), cfg, PretreatConfig(height=32, width=22), "f" * 16)
    path = export_onnx(embedder, tmp_path / f"{name}.onnx")
    assert verify_onnx(embedder, path, lengths=(30, 4)) < 1e-4


def test_export_cli_and_bad_input(embedder, tmp_path, capsys):
    ckpt = make_checkpoint(tmp_path / "ckpt")
    out = tmp_path / "model.onnx"
    assert main(["export", str(ckpt), "--onnx", str(out)]) == 0
    printed = capsys.readouterr().out
    assert out.is_file() and "onnxruntime matches PyTorch" in printed
    frames = person_frames(1, frames=9, size=(32, 22))
    np.testing.assert_allclose(OnnxEmbedder(out).embed(frames), Embedder.from_checkpoint(ckpt).embed(frames), rtol=1e-4, atol=1e-6)
    assert main(["export", str(tmp_path / "no-such-run"), "--onnx", str(out)]) == 2
    assert "no-such-run" in capsys.readouterr().err
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not onnx")
    with pytest.raises(GaitReidError, match="broken.onnx"):
        OnnxEmbedder(broken)
