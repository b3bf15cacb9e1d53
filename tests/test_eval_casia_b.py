"""The CASIA-B protocol: a case computed by hand, and the properties papers' figures rely on."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gaitreid.data.layout import CASIA_B_CONDITIONS, CASIA_B_VIEWS, SequenceKey
from gaitreid.errors import GaitReidError
from gaitreid.evaluation.casia_b import casia_b_protocol

K = SequenceKey


def test_hand_case_two_subjects_two_views():
    # One number per sequence. Gallery (nm-01): A@000=0, B@000=10, A@018=100, B@018=110.
    keys = [K("A", "nm-01", "000"), K("B", "nm-01", "000"), K("A", "nm-01", "018"), K("B", "nm-01", "018")]
    values = [0.0, 10.0, 100.0, 110.0]
    # Probes (nm-05):
    #   A@000=108: vs 000 gallery A 108, B 98 -> wrong;   vs 018 gallery A 8, B 2 -> wrong (A at rank 2)
    #   B@000=9:   vs 000 gallery A 9,   B 1  -> right;   vs 018 gallery A 91, B 101 -> wrong (B at rank 2)
    #   A@018=1:   vs 000: right; vs 018: right.   B@018=111: vs 000: right; vs 018: right.
    keys += [K("A", "nm-05", "000"), K("B", "nm-05", "000"), K("A", "nm-05", "018"), K("B", "nm-05", "018")]
    values += [108.0, 9.0, 1.0, 111.0]
    emb = np.array(values)[:, None, None]
    result = casia_b_protocol(emb, keys)
    assert result.probe_types == ("nm",)
    assert result.views == ("000", "018")
    np.testing.assert_allclose(result.rank1[0], [[50.0, 0.0], [100.0, 100.0]])
    # identical view excluded: 000 -> cell (000, 018) = 0; 018 -> cell (018, 000) = 100; mean 50
    # (with the identical view included it would be 62.5)
    np.testing.assert_allclose(result.per_view_rank1[0], [0.0, 100.0])
    assert result.condition_rank1 == {"nm": 50.0}
    # one gallery sequence per subject and view, so AP = 1 / rank: (000, 018) = (1/2 + 1/2) / 2
    np.testing.assert_allclose(result.per_view_map[0], [50.0, 100.0])
    assert result.condition_map == {"nm": 75.0}
    assert "NM" in result.table() and "50.0" in result.table()


def full_keys(subjects, views, conditions=CASIA_B_CONDITIONS):
    return [K(s, c, v) for s in subjects for c in conditions for v in views]


@st.composite
def casia_like(draw):
    """Subjects, a subset of views, and a random subset of the non-gallery sequences missing."""
    n_subjects = draw(st.integers(2, 5))
    views = draw(st.lists(st.sampled_from(CASIA_B_VIEWS), min_size=2, max_size=5, unique=True))
    subjects = [f"{i:03d}" for i in range(1, n_subjects + 1)]
    keys = full_keys(subjects, sorted(views))
    # nm-01 always present so that every probe has a true match in every gallery view
    keep = [k.condition == "nm-01" or draw(st.booleans()) for k in keys]
    keys = [k for k, kept in zip(keys, keep) if kept]
    if not any(k.condition in ("nm-05", "nm-06", "bg-01", "bg-02", "cl-01", "cl-02") for k in keys):
        keys.append(K(subjects[0], "cl-02", views[0]))
    return subjects, sorted(views), keys


@settings(max_examples=30, deadline=None)
@given(case=casia_like())
def test_perfect_embeddings_score_100(case):
    subjects, _, keys = case
    emb = np.stack([np.eye(len(subjects))[subjects.index(k.subject)] for k in keys])[:, :, None]
    result = casia_b_protocol(emb, keys)
    assert all(v == 100.0 for v in result.condition_rank1.values())
    assert all(v == 100.0 for v in result.condition_map.values())
    assert result.mean_rank1 == 100.0 and result.num_unmatched == 0


@settings(max_examples=30, deadline=None)
@given(case=casia_like(), seed=st.integers(0, 2**32 - 1))
def test_rank1_does_not_depend_on_order(case, seed):
    _, _, keys = case
    rng = np.random.default_rng(seed)
    emb = rng.integers(-2, 3, size=(len(keys), 3, 2)).astype(np.float64)  # small integers: many exact ties
    order = rng.permutation(len(keys))
    before = casia_b_protocol(emb, keys)
    after = casia_b_protocol(emb[order], [keys[i] for i in order])
    np.testing.assert_array_equal(before.rank1, after.rank1)
    np.testing.assert_allclose(before.mean_ap, after.mean_ap, rtol=1e-12)  # same APs, summed in another order


@settings(max_examples=25, deadline=None)
@given(n_subjects=st.integers(2, 6), views=st.lists(st.sampled_from(CASIA_B_VIEWS), min_size=2, max_size=11, unique=True))
def test_identical_view_is_excluded(n_subjects, views):
    # Probe (s, v) is the unit vector e[s, v]. Gallery (s, v) is e[s, v] plus 0.9 on e[s-1, v'] for
    # every other view v'. So in the probe's own view its subject is nearest (dot product 1), while in
    # every other view subject s+1 is nearest (dot 0.9 against 0): only the identical view would match.
    views = sorted(views)
    subjects = list(range(n_subjects))
    dim = n_subjects * len(views)

    def unit(s, v):
        e = np.zeros(dim)
        e[(s % n_subjects) * len(views) + v] = 1.0
        return e

    keys, emb = [], []
    for s in subjects:
        for vi, view in enumerate(views):
            for cond in ("nm-01", "nm-02", "nm-03", "nm-04"):
                keys.append(K(f"{s:03d}", cond, view))
                emb.append(unit(s, vi) + 0.9 * sum(unit(s - 1, w) for w in range(len(views)) if w != vi))
            for cond in ("nm-05", "bg-01", "cl-02"):
                keys.append(K(f"{s:03d}", cond, view))
                emb.append(unit(s, vi))
    result = casia_b_protocol(np.array(emb)[:, :, None], keys)
    diagonal = np.arange(len(views))
    assert np.all(result.rank1[:, diagonal, diagonal] == 100.0)  # same view: always right
    assert np.all(result.per_view_rank1 == 0.0)  # ... but it never counts
    assert result.mean_rank1 == 0.0


def test_missing_views_give_empty_cells_not_errors():
    subjects = ["051", "052", "053"]
    keys = full_keys(subjects, ["000", "090", "180"])
    # no cl probes at 090 at all, and no gallery at 180
    keys = [k for k in keys if not (k.view == "090" and k.condition_type == "cl")]
    keys = [k for k in keys if not (k.view == "180" and k.condition in ("nm-01", "nm-02", "nm-03", "nm-04"))]
    emb = np.stack([np.eye(3)[subjects.index(k.subject)] for k in keys])[:, :, None]
    result = casia_b_protocol(emb, keys)
    cl = result.probe_types.index("cl")
    assert result.num_probes[cl, result.views.index("090")] == 0
    assert np.isnan(result.per_view_rank1[cl, result.views.index("090")])
    assert np.all(np.isnan(result.rank1[:, :, result.views.index("180")]))
    assert result.condition_rank1["cl"] == 100.0  # means skip the empty cells
    assert "-" in result.table()
    assert result.subjects == tuple(subjects)


def test_probe_without_gallery_match_is_a_miss_or_skipped():
    keys = [K("A", "nm-01", "000"), K("B", "nm-01", "000"), K("A", "nm-05", "018"), K("C", "nm-05", "018")]
    emb = np.array([0.0, 10.0, 0.0, 10.0])[:, None, None]
    as_miss = casia_b_protocol(emb, keys)  # C has no gallery sequence: counted wrong
    assert as_miss.condition_rank1["nm"] == 50.0 and as_miss.num_unmatched == 1
    skipped = casia_b_protocol(emb, keys, unmatched="skip")
    assert skipped.condition_rank1["nm"] == 100.0


def test_bad_input_is_a_clear_error():
    keys = [K("A", "nm-05", "000")]
    with pytest.raises(GaitReidError, match="no gallery"):
        casia_b_protocol(np.zeros((1, 2, 1)), keys)
    with pytest.raises(GaitReidError, match="2 embeddings but 1"):
        casia_b_protocol(np.zeros((2, 2, 1)), keys)


def test_to_dict_is_json_ready():
    import json

    keys = full_keys(["001", "002"], ["000", "018"])
    emb = np.random.default_rng(0).normal(size=(len(keys), 4, 2))
    result = casia_b_protocol(emb, keys, metric="cosine")
    data = json.loads(json.dumps(result.to_dict()))
    assert set(data["rank1"]) == {"nm", "bg", "cl"} and data["metric"] == "cosine"
    assert len(data["rank1_cells"]["bg"]) == 2
