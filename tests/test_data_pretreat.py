"""Pretreatment: crop rows, resize to height, centre on the half-mass column, cut to width."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gaitreid.data.pretreat import PretreatConfig, half_mass_columns, pretreat_sequence
from gaitreid.data.safe_pickle import load_numpy_pickle
from gaitreid.errors import ConfigError


def walker_frames(t: int = 12, seed: int = 0) -> np.ndarray:
    """[t, 64, 64] frames shaped like OpenGait's: a person filling rows 0..63, half mass at column 32."""
    rng = np.random.default_rng(seed)
    frames = np.zeros((t, 64, 64), dtype=np.uint8)
    for i in range(t):
        half_width = 6 + i % 5
        frames[i, :, 32 - half_width : 32 + half_width] = 255  # symmetric: half mass reached at column 32
        frames[i, 20:40, 32 - half_width - 4 : 32 - half_width] = rng.integers(100, 255)  # an arm, left
        frames[i, 20:40, 32 + half_width : 32 + half_width + 4] = frames[i, 20, 32 - half_width - 1]  # mirrored
    return frames


def test_pretreated_frames_only_lose_ten_columns_each_side_at_64x44():
    frames = walker_frames()
    assert (half_mass_columns(frames) == 32).all()
    out = pretreat_sequence(frames, PretreatConfig(64, 44))
    np.testing.assert_array_equal(out, frames[:, :, 10:54])


def test_32x22_is_the_resize_then_the_side_cut():
    frames = walker_frames()
    out = pretreat_sequence(frames, PretreatConfig(32, 22))
    resized = np.stack([cv2.resize(f, (32, 32), interpolation=cv2.INTER_AREA) for f in frames])
    assert (half_mass_columns(resized) == 16).all()
    np.testing.assert_array_equal(out, resized[:, :, 5:27])


def test_raw_style_frame_in_a_big_canvas_gives_the_same_output():
    """A 64-row person pasted anywhere in a 240x320 frame: crop + centring undo the placement."""
    frames = walker_frames()
    canvas = np.zeros((len(frames), 240, 320), dtype=np.uint8)
    canvas[:, 77 : 77 + 64, 130 : 130 + 64] = frames
    np.testing.assert_array_equal(pretreat_sequence(canvas), pretreat_sequence(frames))


def test_tall_person_is_scaled_to_height_and_centred():
    frames = np.zeros((3, 240, 320), dtype=np.uint8)
    frames[:, 40:200, 100:140] = 255  # 160 rows x 40 columns -> 64 rows x 16 columns
    out = pretreat_sequence(frames, PretreatConfig(64, 44))
    assert out.shape == (3, 64, 44)
    assert (out.max(axis=2) > 0).all()  # every row holds the person
    columns = np.flatnonzero(out[0].max(axis=0) > 0)
    assert len(columns) == 16
    assert columns[0] == 22 - 8 and columns[-1] == 22 + 7  # centred on column width // 2


def test_empty_and_tiny_frames_are_dropped():
    frames = walker_frames(6)
    frames[1] = 0  # all black
    frames[3] = 0
    frames[3, 10:12, 10:12] = 255  # 4 pixels: below min_foreground_pixels
    out = pretreat_sequence(frames, PretreatConfig(min_foreground_pixels=40))
    assert len(out) == 4
    np.testing.assert_array_equal(out, frames[[0, 2, 4, 5], :, 10:54])
    assert pretreat_sequence(np.zeros((5, 64, 64), np.uint8)).shape == (0, 64, 44)


def test_foreground_fraction_threshold():
    frames = walker_frames(2)
    frames[1] = 0
    frames[1, :, 30:34] = 255  # 256 pixels = 6 % of the frame
    assert len(pretreat_sequence(frames, PretreatConfig(min_foreground_fraction=0.05))) == 2
    assert len(pretreat_sequence(frames, PretreatConfig(min_foreground_fraction=0.10))) == 1


def test_person_wider_than_the_output_is_cut_not_squeezed():
    frames = np.zeros((1, 64, 100), dtype=np.uint8)
    frames[0, :, 10:90] = 255
    out = pretreat_sequence(frames, PretreatConfig(64, 44))
    assert (out == 255).all()


def test_bad_input_and_config():
    with pytest.raises(ValueError):
        pretreat_sequence(np.zeros((64, 64), np.uint8))
    with pytest.raises(ValueError):
        pretreat_sequence(np.zeros((2, 64, 64), np.float32))
    with pytest.raises(ConfigError):
        PretreatConfig(height=2)
    with pytest.raises(ConfigError):
        PretreatConfig(min_frames=0)
    assert PretreatConfig.from_dict(PretreatConfig(32, 22).to_dict()) == PretreatConfig(32, 22)


@pytest.mark.casia
def test_real_subject_001_changes_only_by_the_resize_and_the_side_cut(casia_b_subject001):
    """What holds on real OpenGait frames, measured: the output is the resize plus the cut of the
    side columns, except for frames whose top or bottom row is empty (their row crop rescales)
    or whose half-mass column is off-centre (they shift by the difference). Over all 74 subjects
    that is 146 of 670,532 frames at 64x44 and 263 at 32x22; in subject 001, 0 and 2."""
    total = irregular = 0
    for path in sorted(casia_b_subject001.glob("001/*/*/*.pkl")):
        frames = load_numpy_pickle(path)
        rows = frames.max(axis=2) > 0
        full_height = rows[:, 0] & rows[:, -1]
        for cfg, resized, cut in (
            (PretreatConfig(64, 44), frames, 10),
            (PretreatConfig(32, 22), np.stack([cv2.resize(f, (32, 32), interpolation=cv2.INTER_AREA) for f in frames]), 5),
        ):
            out = pretreat_sequence(frames, cfg)
            assert out.shape == (len(frames), cfg.height, cfg.width)  # no real frame is dropped
            regular = full_height & (half_mass_columns(resized) == resized.shape[2] // 2)
            same = (out == resized[:, :, cut:-cut]).all(axis=(1, 2))
            assert same[regular].all(), path
            irregular += int((~regular).sum())
        total += len(frames)
    assert total == 8443
    assert irregular <= 2


@st.composite
def person_frames(draw):
    """A random blocky 'person' (full-height torso plus limbs) of 64 rows, and where to put it."""
    t = draw(st.integers(1, 4))
    frames = np.zeros((t, 64, 40), dtype=np.uint8)
    for i in range(t):
        left = draw(st.integers(10, 20))
        frames[i, :, left : left + draw(st.integers(2, 10))] = 255  # the torso holds the half-mass column
        for _ in range(draw(st.integers(0, 3))):  # limbs within 10 columns of it: nothing gets cut
            top, col = draw(st.integers(0, 60)), draw(st.integers(left - 10, left + 18))
            frames[i, top : top + 4, col : col + 2] = draw(st.integers(1, 255))
    return frames, draw(st.integers(0, 170)), draw(st.integers(0, 280))


@settings(max_examples=60, deadline=None)
@given(person_frames())
def test_placement_in_the_frame_does_not_change_the_output(case):
    """Property: crop + centring make the output independent of where the person stands."""
    frames, top, left = case
    canvas = np.zeros((len(frames), 240, 320), dtype=np.uint8)
    canvas[:, top : top + 64, left : left + 40] = frames
    cfg = PretreatConfig(64, 44, min_foreground_pixels=0)
    out = pretreat_sequence(canvas, cfg)
    np.testing.assert_array_equal(out, pretreat_sequence(frames, cfg))
    # and the half-mass column sits at width // 2 (nothing is cut: the person is narrower than 44)
    assert (half_mass_columns(out) == 22).all()
