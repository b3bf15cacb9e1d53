"""Re-identification metrics: hand cases, a brute-force mAP reference, order invariance, no self-match."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gaitreid.evaluation.reid import leave_one_out_metrics, reid_metrics


def brute_force(qe, qid, ge, gid, qgroup=None, ggroup=None):
    """Per query: full sort by (distance, negatives first), then AP and the first-match rank."""
    aps, firsts = [], []
    for a in range(len(qe)):
        items = []
        for b in range(len(ge)):
            if qgroup is not None and qgroup[a] == ggroup[b]:
                continue
            d = np.mean(np.linalg.norm(qe[a] - ge[b], axis=0))  # per part over c, mean over parts
            items.append((d, qid[a] == gid[b]))
        items.sort(key=lambda item: (item[0], item[1]))  # ties: negative (False) first
        hits, precisions, first = 0, [], 0
        for position, (_, positive) in enumerate(items, start=1):
            if positive:
                hits += 1
                precisions.append(hits / position)
                first = first or position
        if hits:
            aps.append(np.mean(precisions))
            firsts.append(first)
    return aps, firsts


def test_hand_case():
    # query 0 at 0.0 (id A): gallery A at 2, B at 1, A at 3 -> ranking B, A, A
    # AP = (1/2 + 2/3) / 2 = 7/12; first match at rank 2
    gallery = np.array([[2.0], [1.0], [3.0]])
    result = reid_metrics(np.array([[0.0]]), ["A"], gallery, ["A", "B", "A"], max_rank=3)
    assert result["rank1"] == 0.0
    assert result["rank5"] == 100.0
    assert result["mAP"] == pytest.approx(100 * 7 / 12)
    assert result["cmc"] == [0.0, 100.0, 100.0]


def test_ties_count_against_the_query():
    # everything at the same place: the positive shares rank with the negative and loses
    x = np.zeros((3, 2, 1))
    result = leave_one_out_metrics(x, ["A", "A", "B"], max_rank=2)
    assert result["rank1"] == 0.0


def test_a_query_never_matches_its_own_sequence():
    x = np.array([[0.0], [10.0], [0.5], [10.5]])
    ids = ["A", "B", "A", "B"]
    assert leave_one_out_metrics(x, ids)["rank1"] == 100.0
    # without exclusion each query would find itself at distance 0, with exclusion a lonely query has no match
    lonely = leave_one_out_metrics(np.array([[0.0], [1.0], [5.0]]), ["A", "B", "B"], unmatched="skip")
    assert lonely["num_unmatched"] == 1 and lonely["num_queries"] == 2
    as_miss = leave_one_out_metrics(np.array([[0.0], [1.0], [5.0]]), ["A", "B", "B"], unmatched="miss")
    # B at 1 finds A at 0 first (wrong), B at 5 finds B at 1 (right), A has no match (a miss)
    assert as_miss["num_queries"] == 3 and as_miss["rank1"] == pytest.approx(100 / 3)
    assert lonely["rank1"] == 50.0


small_ints = st.integers(-3, 3).map(float)


@st.composite
def query_gallery(draw, max_parts=2):
    n_q, n_g = draw(st.integers(1, 8)), draw(st.integers(1, 10))
    c, p = draw(st.integers(1, 3)), draw(st.integers(1, max_parts))
    qe = draw(arrays(np.float64, (n_q, c, p), elements=small_ints))
    ge = draw(arrays(np.float64, (n_g, c, p), elements=small_ints))
    qid = draw(st.lists(st.integers(0, 3), min_size=n_q, max_size=n_q))
    gid = draw(st.lists(st.integers(0, 3), min_size=n_g, max_size=n_g))
    return qe, qid, ge, gid


def check_against_brute_force(qe, qid, ge, gid, chunk):
    aps, firsts = brute_force(qe, qid, ge, gid)
    result = reid_metrics(qe, qid, ge, gid, max_rank=12, max_chunk_bytes=chunk)
    assert result["num_queries"] == len(aps)
    if aps:
        assert result["mAP"] == pytest.approx(100 * np.mean(aps))
        expected_cmc = [100 * np.mean(np.array(firsts) <= k) for k in range(1, 13)]
        assert result["cmc"] == pytest.approx(expected_cmc)


@settings(max_examples=60, deadline=None)
@given(case=query_gallery(max_parts=1), chunk=st.integers(1, 5000))
def test_map_and_cmc_equal_brute_force_with_exact_ties(case, chunk):
    # one part and small integers: distances are square roots of integers, so equal distances are
    # exactly equal in both computations and the tie rule is tested for real
    check_against_brute_force(*case, chunk)


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.tuples(st.integers(1, 8), st.integers(1, 10), st.integers(1, 4), st.integers(1, 3)),
    seed=st.integers(0, 2**32 - 1),
    chunk=st.integers(1, 5000),
)
def test_map_and_cmc_equal_brute_force_several_parts(sizes, seed, chunk):
    # several parts: a mean of square roots, so only tie-free (continuous) embeddings compare exactly
    n_q, n_g, c, p = sizes
    rng = np.random.default_rng(seed)
    qe, ge = rng.normal(size=(n_q, c, p)), rng.normal(size=(n_g, c, p))
    qid, gid = rng.integers(0, 3, n_q).tolist(), rng.integers(0, 3, n_g).tolist()
    check_against_brute_force(qe, qid, ge, gid, chunk)


@settings(max_examples=40, deadline=None)
@given(case=query_gallery(), seed=st.integers(0, 2**32 - 1))
def test_metrics_do_not_depend_on_gallery_order(case, seed):
    qe, qid, ge, gid = case
    order = np.random.default_rng(seed).permutation(len(ge))
    before = reid_metrics(qe, qid, ge, gid)
    after = reid_metrics(qe, qid, ge[order], [gid[i] for i in order])
    assert before == after or (np.isnan(before["mAP"]) and np.isnan(after["mAP"]))


@settings(max_examples=30, deadline=None)
@given(case=query_gallery(max_parts=1))
def test_leave_one_out_equals_brute_force_with_self_excluded(case):
    _, _, ge, gid = case
    rows = list(range(len(ge)))
    aps, _ = brute_force(ge, gid, ge, gid, rows, rows)
    result = leave_one_out_metrics(ge, gid)
    if aps:
        assert result["mAP"] == pytest.approx(100 * np.mean(aps))


@settings(max_examples=30, deadline=None)
@given(ids=st.lists(st.integers(0, 5), min_size=2, max_size=20))
def test_perfect_embeddings_score_100(ids):
    emb = np.eye(6)[ids][:, :, None]  # [n, 6, 1] one-hot of the identity
    result = leave_one_out_metrics(emb, ids, unmatched="skip")
    if result["num_queries"]:
        assert result["rank1"] == 100.0 and result["mAP"] == 100.0


@settings(max_examples=60, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 6), st.integers(1, 30)),
    seed=st.integers(0, 2**32 - 1),
    with_ignore=st.booleans(),
)
def test_row_and_vectorised_ranking_agree(shape, seed, with_ignore):
    # small integer distances: plenty of exact ties between positives and negatives
    from gaitreid.evaluation.ranking import rank_positives

    rng = np.random.default_rng(seed)
    dist = torch.from_numpy(rng.integers(0, 5, size=shape).astype(np.float32))
    positive = torch.from_numpy(rng.random(shape) < 0.3)
    ignore = torch.from_numpy(rng.random(shape) < 0.2) if with_ignore else None
    rows = rank_positives(dist, positive, ignore, method="rows")
    vectorised = rank_positives(dist, positive, ignore, method="vectorised")
    assert torch.equal(rows.first_rank, vectorised.first_rank)
    assert torch.equal(rows.num_positives, vectorised.num_positives)
    assert torch.allclose(rows.average_precision, vectorised.average_precision)


def test_wide_gallery_takes_the_row_path_and_agrees_with_brute_force():
    rng = np.random.default_rng(5)
    gallery, gid = rng.normal(size=(5000, 3, 1)), rng.integers(0, 50, 5000).tolist()
    queries, qid = rng.normal(size=(3, 3, 1)), [0, 1, 2]
    aps, firsts = brute_force(queries, qid, gallery, gid)
    result = reid_metrics(queries, qid, gallery, gid, max_rank=5000)
    assert result["mAP"] == pytest.approx(100 * np.mean(aps))
    assert result["cmc"][min(firsts) - 1] > 0 and result["cmc"][max(firsts) - 1] == 100.0
