"""Silhouette augmentations: shape and range kept, one transform per clip, reproducible."""

from __future__ import annotations

import pytest
import torch

from gaitreid.data.augment import (
    AffinePerspective,
    AugmentConfig,
    BandMorphology,
    HorizontalFlip,
    RandomErasing,
    SimCLRAugment,
    TrainAugment,
)
from gaitreid.errors import ConfigError


def walker_clips(n: int, s: int, h: int = 32, w: int = 22) -> torch.Tensor:
    """n identical clips of s identical frames: a filled ellipse body on a black background."""
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    body = (((ys - h / 2) / (0.42 * h)) ** 2 + ((xs - w / 2) / (0.25 * w)) ** 2 <= 1).float()
    return body.expand(n, s, h, w).clone()


ALWAYS = AugmentConfig(affine_prob=1, flip_prob=1, band_prob=1, erase_prob=1, perspective=0.1)


@pytest.mark.parametrize("augment", [SimCLRAugment(), TrainAugment(), SimCLRAugment(ALWAYS)])
def test_shape_range_and_dtype_kept(augment):
    x = walker_clips(6, 5)
    y = augment(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and y.dtype == x.dtype
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0


def test_same_transform_for_every_frame_of_a_clip_but_not_across_clips():
    x = walker_clips(8, 4)  # every frame of every clip identical
    y = SimCLRAugment(ALWAYS)(x, torch.Generator().manual_seed(1))
    for i in range(8):
        for t in range(1, 4):
            torch.testing.assert_close(y[i, t], y[i, 0])
    distinct = {tuple(y[i, 0].flatten().tolist()) for i in range(8)}
    assert len(distinct) == 8  # independent parameters per clip
    assert not torch.equal(y, x)


def test_reproducible_with_a_seed():
    x = torch.rand(4, 3, 32, 22, generator=torch.Generator().manual_seed(2))
    augment = SimCLRAugment()
    a = augment(x, torch.Generator().manual_seed(7))
    b = augment(x, torch.Generator().manual_seed(7))
    c = augment(x, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_probability_zero_is_identity():
    off = AugmentConfig(affine_prob=0, flip_prob=0, band_prob=0, erase_prob=0)
    x = torch.rand(3, 2, 16, 12)
    assert torch.equal(SimCLRAugment(off)(x, torch.Generator().manual_seed(0)), x)


def test_affine_identity_parameters_keep_the_image():
    still = AffinePerspective(1.0, 0.0, (1.0, 1.0), 0.0, 0.0)
    x = walker_clips(2, 3)
    torch.testing.assert_close(still(x, torch.Generator().manual_seed(0)), x)


def test_affine_translation_moves_the_body():
    shift = AffinePerspective(1.0, 0.0, (1.0, 1.0), 0.2, 0.0)
    x = walker_clips(16, 1)
    y = shift(x, torch.Generator().manual_seed(3))
    cols = torch.arange(22.0)
    centre_x = (y[:, 0].sum(1) * cols).sum(1) / y[:, 0].sum((1, 2))  # [16]
    assert (centre_x - 10.5).abs().max() > 1.0  # some clips moved by more than a pixel
    assert y.sum() > 0.5 * x.sum()  # the body is still mostly inside the frame


def test_flip_mirrors_the_frame():
    x = torch.rand(3, 2, 8, 6)
    torch.testing.assert_close(HorizontalFlip(1.0)(x, torch.Generator()), x.flip(-1))


def test_band_morphology_changes_only_a_band_and_in_the_right_direction():
    x = walker_clips(12, 2)
    y = BandMorphology(1.0, (0.2, 0.3), 3)(x, torch.Generator().manual_seed(4))
    for i in range(12):
        changed_rows = (y[i, 0] != x[i, 0]).any(dim=1).nonzero().flatten()
        assert len(changed_rows) > 0
        assert int(changed_rows.max() - changed_rows.min()) + 1 <= round(0.3 * 32)  # within one band
        grew, shrank = bool((y[i] >= x[i]).all()), bool((y[i] <= x[i]).all())
        assert grew != shrank  # dilation only adds, erosion only removes


def test_random_erasing_blanks_one_rectangle_per_clip():
    x = torch.ones(5, 3, 20, 16)
    y = RandomErasing(1.0, (0.05, 0.1))(x, torch.Generator().manual_seed(5))
    for i in range(5):
        erased = y[i, 0] == 0
        rows, cols = erased.any(1).nonzero().flatten(), erased.any(0).nonzero().flatten()
        box = erased[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        assert bool(box.all())  # a solid rectangle
        assert 0.03 * 320 <= int(erased.sum()) <= 0.15 * 320
        assert torch.equal(y[i, 1], y[i, 0]) and torch.equal(y[i, 2], y[i, 0])


def test_bad_config_and_input_are_refused():
    with pytest.raises(ConfigError, match="flip_prob"):
        AugmentConfig(flip_prob=1.5)
    with pytest.raises(ConfigError, match="band_kernel"):
        AugmentConfig(band_kernel=4)
    with pytest.raises(ConfigError, match="min_scale"):
        AugmentConfig(min_scale=1.2, max_scale=1.1)
    with pytest.raises(ValueError, match=r"\[n, s, h, w\]"):
        SimCLRAugment()(torch.zeros(3, 32, 22))
