"""Splits are data (JSON); the GEI baseline is the mean silhouette."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gaitreid.data.layout import SequenceKey
from gaitreid.errors import ConfigError, DataError
from gaitreid.evaluation.gei import gait_energy_image, gei_embeddings
from gaitreid.evaluation.splits import available_splits, load_split


def test_packaged_casia_b_splits():
    standard = load_split("casia-b")
    assert standard.name == "casia-b/standard"
    assert standard.train_subjects[0] == "001" and standard.train_subjects[-1] == "074"
    assert standard.test_subjects == tuple(f"{i:03d}" for i in range(75, 125))
    dev = load_split("casia-b/dev")
    assert len(dev.train_subjects) == 50 and dev.test_subjects[0] == "051" and dev.test_subjects[-1] == "074"
    assert {"casia-b/standard", "casia-b/dev"} <= set(available_splits())


def test_split_applied_to_a_store_with_only_74_subjects():
    present = [f"{i:03d}" for i in range(1, 75)]
    assert load_split("casia-b/dev").test_subjects_in(present) == [f"{i:03d}" for i in range(51, 75)]
    with pytest.raises(DataError, match="none of the test subjects.*casia-b/dev"):
        load_split("casia-b").require_test_subjects(present, "store.gaitreid")


def test_split_file_with_fraction(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"dataset": "toy", "splits": {"quarter": {"test_fraction": 0.25}}}))
    split = load_split(f"{path}#quarter")
    subjects = [f"s{i:02d}" for i in range(8)]
    assert split.test_subjects_in(subjects) == ["s06", "s07"]
    assert split.train_subjects_in(subjects) == subjects[:6]


def test_packaged_synthetic_split_tests_only_labelled_subjects():
    split = load_split("synthetic")
    subjects = [f"{i:03d}" for i in range(1, 41)] + ["u00001", "u00002"]
    test = split.test_subjects_in(subjects)
    assert test == [f"{i:03d}" for i in range(29, 41)]  # the last 30% of the 40 labelled subjects
    train = split.train_subjects_in(subjects)
    assert "u00001" in train and not set(train) & set(test) and len(train) + len(test) == len(subjects)
    assert load_split("synthetic/half").test_subjects_in(subjects)[0] == "021"


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"splits": {}}), "non-empty 'splits'"),
        (json.dumps({"splits": {"a": {"train": ["001-003"]}}}), "needs 'train' and 'test'"),
        (json.dumps({"splits": {"a": {"train": ["001-003"], "test": ["003-004"]}}}), "both train and test: 003"),
        (json.dumps({"splits": {"a": {"test_fraction": 1.5}}}), "between 0 and 1"),
        (json.dumps({"splits": {"a": {"test_fraction": 0.5, "test_pattern": "(["}}}), "not a regular expression"),
    ],
)
def test_bad_split_files_name_the_file(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message) as err:
        load_split(str(path))
    assert "bad.json" in str(err.value)


def test_unknown_split_names():
    with pytest.raises(ConfigError, match="unknown split"):
        load_split("no-such-dataset")
    with pytest.raises(ConfigError, match="no split named 'nope'"):
        load_split("casia-b/nope")


class TinyStore:
    """Just the part of the SequenceStore contract the GEI needs."""

    def __init__(self, sequences):
        self.sequences = sequences
        self.keys = [SequenceKey(f"{i:03d}", "nm-01", "000") for i in range(len(sequences))]
        self.frame_shape = sequences[0].shape[1:]

    def __len__(self):
        return len(self.sequences)

    def frames(self, i):
        return self.sequences[i]


def test_gei_is_the_mean_silhouette():
    frames = np.zeros((4, 2, 3), dtype=np.uint8)
    frames[:2, 0, 0] = 255  # on in half the frames
    frames[:, 1, 2] = 255  # on in all
    gei = gait_energy_image(frames)
    assert gei[0, 0] == pytest.approx(0.5) and gei[1, 2] == 1.0 and gei[0, 1] == 0.0


def test_gei_embeddings_shape_and_order():
    a = np.full((3, 2, 2), 255, dtype=np.uint8)
    b = np.zeros((5, 2, 2), dtype=np.uint8)
    emb = gei_embeddings(TinyStore([a, b]), [1, 0])
    assert emb.shape == (2, 4, 1) and emb.dtype == np.float32
    assert emb[0].max() == 0.0 and emb[1].min() == 1.0
    with pytest.raises(DataError, match="no frames"):
        gei_embeddings(TinyStore([a, np.zeros((0, 2, 2), dtype=np.uint8)]), [1])
