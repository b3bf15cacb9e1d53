"""Model shapes, set properties (frame order and length free), the frame-level baseline, config."""

from __future__ import annotations

import pytest
import torch

from gaitreid.errors import ConfigError
from gaitreid.models import ModelConfig, ProjectionHead, build_model
from gaitreid.models.set_blocks import HorizontalPyramidPooling, SeparateBNNecks, SeparateFCs

SIZES = [(64, 44), (32, 22)]
EXPECTED = {  # name -> (embedding dim, parts) with default config
    "gaitset-compact": (128, 31),
    "resnet9": (256, 16),
    "frame-cnn": (128, 1),
}


def clips(n: int, s: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, s, h, w, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("size", SIZES)
def test_output_shapes(name, size):
    h, w = size
    model = build_model(ModelConfig(name=name, in_height=h, in_width=w, num_classes=7))
    out = model(clips(2, 3, h, w))
    c, p = EXPECTED[name]
    assert out["embeddings"].shape == (2, c, p)
    assert out["bn_embeddings"].shape == (2, c, p)
    assert out["logits"].shape == (2, 7, p)


@pytest.mark.parametrize("size", SIZES)
def test_set_models_keep_sixteen_rows_for_the_strips(size):
    for name in ("gaitset-compact", "resnet9"):
        cfg = ModelConfig(name=name, in_height=size[0], in_width=size[1])
        assert cfg.final_rows == 16
        model = build_model(cfg)
        feature_map = model.encoder.backbone.module(torch.zeros(1, 1, *size))
        assert feature_map.shape[2] == 16


def test_no_classifier_means_no_logits():
    out = build_model(ModelConfig(in_height=32, in_width=22))(clips(2, 4, 32, 22))
    assert set(out) == {"embeddings", "bn_embeddings"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_embeddings_do_not_depend_on_frame_order(name):
    model = build_model(ModelConfig(name=name, in_height=32, in_width=22, num_classes=3)).eval()
    x = clips(3, 9, 32, 22, seed=1)
    permuted = x[:, torch.randperm(9, generator=torch.Generator().manual_seed(2))]
    with torch.no_grad():
        a, b = model(x), model(permuted)
    for key in ("embeddings", "bn_embeddings", "logits"):
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_any_sequence_length(name):
    model = build_model(ModelConfig(name=name, in_height=32, in_width=22)).eval()
    with torch.no_grad():
        for length in (1, 2, 9):
            assert model(clips(2, length, 32, 22))["embeddings"].shape[0] == 2


def test_set_model_repeated_frames_give_same_embedding():
    """Max over a set ignores duplicates: a clip looped twice embeds like the clip itself."""
    model = build_model(ModelConfig(in_height=32, in_width=22)).eval()
    x = clips(2, 5, 32, 22)
    with torch.no_grad():
        torch.testing.assert_close(model(x)["embeddings"], model(torch.cat([x, x], 1))["embeddings"])


def test_frame_cnn_sequence_embedding_is_mean_of_frame_embeddings():
    model = build_model(ModelConfig(name="frame-cnn", in_height=32, in_width=22)).eval()
    x = clips(2, 6, 32, 22, seed=3)
    with torch.no_grad():
        sequence = model(x)["embeddings"]  # [2, d, 1]
        for i in range(2):
            frames = model.encoder.embed_frames(x[i])  # [6, d]: one image at a time
            single = torch.stack([model.encoder.embed_frames(x[i, t : t + 1])[0] for t in range(6)])
            torch.testing.assert_close(frames, single, rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(sequence[i, :, 0], frames.mean(0), rtol=1e-4, atol=1e-5)


def test_replace_classifier_keeps_encoder():
    model = build_model(ModelConfig(in_height=32, in_width=22, num_classes=0)).eval()
    x = clips(2, 3, 32, 22)
    with torch.no_grad():
        before = model(x)["embeddings"]
        model.replace_classifier(11)
        after = model(x)
    assert after["logits"].shape == (2, 11, 31) and model.config.num_classes == 11
    torch.testing.assert_close(before, after["embeddings"])


def test_freeze_stages_stops_gradients_and_bn_updates():
    model = build_model(ModelConfig(in_height=32, in_width=22, num_classes=4))
    stages = model.backbone_stages()
    assert len(stages) == 3
    frozen = model.freeze_stages(1)
    assert frozen == sum(p.numel() for p in stages[0].parameters()) > 0
    model.train()
    assert not stages[0].training and stages[1].training
    running_mean = stages[0][0][1].running_mean.clone()
    out = model(clips(2, 3, 32, 22))
    out["logits"].sum().backward()
    assert all(p.grad is None for p in stages[0].parameters())
    assert all(p.grad is not None for p in stages[1].parameters())
    torch.testing.assert_close(stages[0][0][1].running_mean, running_mean)
    model.freeze_stages(0)
    assert all(p.requires_grad for p in model.parameters())


def test_channels_last_and_bf16_autocast_run_and_agree():
    model = build_model(ModelConfig(in_height=32, in_width=22)).eval()
    x = clips(2, 4, 32, 22)
    with torch.no_grad():
        reference = model(x)["embeddings"]
        model.use_channels_last()
        torch.testing.assert_close(model(x)["embeddings"], reference, rtol=1e-3, atol=1e-4)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(x)["embeddings"].float()
    assert torch.nn.functional.cosine_similarity(low.flatten(), reference.flatten(), dim=0) > 0.99


def test_model_rejects_wrong_input():
    model = build_model(ModelConfig(in_height=32, in_width=22))
    with pytest.raises(ValueError, match=r"\[n, s, h, w\]"):
        model(torch.zeros(2, 32, 22))
    with pytest.raises(ValueError, match="float"):
        model(torch.zeros(2, 3, 32, 22, dtype=torch.uint8))


# ---------------------------------------------------------------- config
def test_config_defaults_round_trip():
    cfg = ModelConfig(name="resnet9", in_height=32, in_width=22, num_classes=5)
    assert cfg.widths == (64, 128, 256, 512) and cfg.bins == (16,) and cfg.embedding_dim == 256
    again = ModelConfig.from_dict(cfg.to_dict())
    assert again == cfg
    assert ModelConfig(widths=[16, 32, 64], bins=[1, 2]).widths == (16, 32, 64)  # YAML lists


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "gaitnet"}, "unknown"),
        ({"widths": (32, 64)}, "needs 3"),
        ({"widths": (32, -1, 128)}, "positive"),
        ({"widths": "32"}, "list"),
        ({"bins": (128,)}, "feature rows"),
        ({"bins": ()}, "non-empty"),
        ({"embedding_dim": 0}, "embedding_dim"),
        ({"in_height": 4}, "in_height"),
        ({"num_classes": -2}, "num_classes"),
        ({"num_classes": 2.5}, "num_classes"),
        ({"name": "frame-cnn", "bins": (1, 2)}, "frame-cnn"),
    ],
)
def test_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ModelConfig(**kwargs)


def test_config_from_dict_names_unknown_keys():
    with pytest.raises(ConfigError, match="depth"):
        ModelConfig.from_dict({"name": "resnet9", "depth": 50})


# ---------------------------------------------------------------- blocks
def test_hpp_strip_values():
    x = torch.arange(4.0).reshape(1, 1, 4, 1).expand(1, 1, 4, 3)  # row r holds value r
    out = HorizontalPyramidPooling((1, 2))(x)  # [1, 1, 3]
    # whole: mean 1.5 + max 3; top half: 0.5 + 1; bottom half: 2.5 + 3
    torch.testing.assert_close(out[0, 0], torch.tensor([4.5, 1.5, 5.5]))


def test_separate_fcs_and_necks_are_part_wise():
    fcs = SeparateFCs(num_parts=3, in_channels=4, out_channels=2)
    x = torch.randn(5, 4, 3)
    out = fcs(x)
    for j in range(3):
        torch.testing.assert_close(out[:, :, j], x[:, :, j] @ fcs.weight[j])
    neck = SeparateBNNecks(num_parts=3, channels=4, num_classes=6).eval()
    bn, logits = neck(x)
    for j in range(3):
        torch.testing.assert_close(logits[:, :, j], bn[:, :, j] @ neck.classifier[j])


def test_projection_head_shape():
    head = ProjectionHead(in_dim=128 * 31, hidden_dim=64, out_dim=32)
    assert head(torch.randn(4, 128, 31)).shape == (4, 32)
