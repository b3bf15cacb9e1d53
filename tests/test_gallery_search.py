"""Search and identification: the evaluation's metric, index vs exact, per-identity minimum, open set,
and the threshold calibration."""

from __future__ import annotations

import numpy as np
import pytest

from gaitreid.data.layout import SequenceKey
from gaitreid.errors import GaitReidError
from gaitreid.evaluation.distances import pairwise_distances
from gaitreid.gallery.calibrate import calibrate_threshold, split_gallery_probe, threshold_for_far
from gaitreid.gallery.database import GalleryEmbeddings
from gaitreid.gallery.identify import Identifier
from gaitreid.gallery.search import ExactSearch, IndexSearch, build_search, part_distances
from use_helpers import clustered_embeddings


def as_gallery(embeddings, labels) -> GalleryEmbeddings:
    names = np.array([f"id{label:03d}" for label in labels], dtype=object)
    return GalleryEmbeddings(embeddings, names, np.arange(len(labels)), [f"/seq/{i}" for i in range(len(labels))])


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_exact_search_uses_the_evaluation_metric(metric):
    emb, _ = clustered_embeddings(20, 5)
    query = emb[7] + 0.01
    expected = pairwise_distances(query[None], emb, metric)[0]
    np.testing.assert_allclose(ExactSearch(emb, metric).distances(query), expected, rtol=1e-5, atol=1e-4)  # float32 |q|^2+|g|^2-2qg
    np.testing.assert_allclose(part_distances(query[None], emb, metric)[0], expected, rtol=1e-6)
    found = ExactSearch(emb, metric).nearest(query, 3)
    assert found.rows[0] == 7 and np.all(np.diff(found.distances) >= 0)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_index_finds_what_exact_search_finds(metric):
    emb, labels = clustered_embeddings(300, 10, shape=(16, 4), spread=0.4)
    rng = np.random.default_rng(1)
    queries = emb[rng.choice(len(emb), 40, replace=False)] + 0.1 * rng.normal(size=(40, 16, 4)).astype(np.float32)
    exact, index = ExactSearch(emb, metric), IndexSearch(emb, metric)
    agree = 0
    for query in queries:
        e, i = exact.nearest(query, 5), index.nearest(query, 5)
        np.testing.assert_allclose(i.distances, np.sort(i.distances))
        # the index reports exact distances for whatever it returns
        np.testing.assert_allclose(i.distances, exact.distances(query)[i.rows], rtol=1e-4, atol=1e-5)
        agree += labels[e.rows[0]] == labels[i.rows[0]]
    assert agree >= 38  # measured 40/40 on this data; a little slack for the approximate index


def test_build_search_chooses_by_size(monkeypatch):
    emb, _ = clustered_embeddings(50, 4)
    assert build_search(emb, method="auto").kind == "exact"
    monkeypatch.setattr("gaitreid.gallery.search.INDEX_MIN_SIZE", 100)
    assert build_search(emb, method="auto").kind == "index"
    with pytest.raises(GaitReidError, match="unknown search method"):
        build_search(emb, method="fast")
    with pytest.raises(GaitReidError, match="unknown distance metric"):
        build_search(emb, metric="manhattan")


@pytest.mark.parametrize("method", ["exact", "index"])
def test_identify_ranks_identities_by_their_nearest_sequence(method):
    emb, labels = clustered_embeddings(40, 6, spread=0.2)
    identifier = Identifier(as_gallery(emb, labels), "euclidean", method)
    query = emb[labels == 17][2] + 0.01
    result = identifier.identify(query, top_k=5)
    assert result.identity == "id017" and len(result.matches) == 5
    assert len({m.identity for m in result.matches}) == 5  # identities, not sequences
    own = pairwise_distances(query[None], emb[labels == 17])[0].min()
    assert result.matches[0].distance == pytest.approx(own, abs=1e-4)
    assert [m.distance for m in result.matches] == sorted(m.distance for m in result.matches)


def test_open_set_threshold_turns_far_queries_into_unknown():
    emb, labels = clustered_embeddings(10, 4, spread=0.1)
    identifier = Identifier(as_gallery(emb, labels), "euclidean", "exact")
    known = emb[3] + 0.01
    stranger = np.random.default_rng(5).normal(size=emb.shape[1:]).astype(np.float32) * 3
    threshold = 0.5
    assert identifier.identify(known, 3, threshold).identity == "id000"
    unknown = identifier.identify(stranger, 3, threshold)
    assert unknown.identity is None and unknown.matches[0].distance > threshold
    assert identifier.identify(stranger, 3, None).identity is not None  # closed set: always an answer


def test_top_k_larger_than_the_gallery_returns_every_identity():
    emb, labels = clustered_embeddings(3, 2)
    result = Identifier(as_gallery(emb, labels)).identify(emb[0], top_k=10)
    assert sorted(m.identity for m in result.matches) == ["id000", "id001", "id002"]


# ---------------------------------------------------------------- calibration


def test_threshold_for_far_lets_through_at_most_the_target_fraction():
    impostor = np.arange(1, 201, dtype=float)  # 200 impostor scores 1..200
    t = threshold_for_far(impostor, 0.01)  # 2 may pass
    assert 2 < t < 3 and np.mean(impostor <= t) == 0.01
    t0 = threshold_for_far(impostor, 0.0)
    assert t0 < 1 and np.mean(impostor <= t0) == 0
    with pytest.raises(GaitReidError):
        threshold_for_far(impostor, 1.5)


def test_split_gallery_probe_uses_conditions_else_half_of_each_subject():
    keys = [SequenceKey("001", c, "090") for c in ("nm-01", "nm-02", "nm-05", "bg-01")]
    keys += [SequenceKey("x", c, "v") for c in ("a", "b", "c", "d")]
    assert split_gallery_probe(keys).tolist() == [True, True, False, False, True, True, False, False]


def test_calibration_meets_the_target_far_and_reports_frr():
    emb, labels = clustered_embeddings(30, 8, spread=0.35, seed=3)
    keys = [SequenceKey(f"{label:03d}", f"nm-{i % 8 + 1:02d}", "090") for i, label in enumerate(labels)]
    result = calibrate_threshold(emb, keys, target_far=0.05, metric="euclidean")
    assert result.far <= 0.05 and result.impostor_trials == 30 * 4 and result.genuine_trials == 30 * 4
    # well separated clusters: almost every genuine probe is accepted and correct
    assert result.frr < 0.1 and result.identification_rate > 0.9
    strict = calibrate_threshold(emb, keys, target_far=0.0)
    assert strict.far == 0.0 and strict.threshold <= result.threshold and strict.frr >= result.frr
    with pytest.raises(GaitReidError, match="at least 2 subjects"):
        calibrate_threshold(emb[:8], keys[:8])


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_chunked_exact_search_streams_a_memmap_to_the_same_answer(tmp_path, monkeypatch, metric):
    from gaitreid.gallery.search import ChunkedExactSearch

    monkeypatch.setattr("gaitreid.gallery.search.EXACT_CHUNK_ROWS", 64)  # several chunks
    emb, _ = clustered_embeddings(50, 6)
    stored = np.lib.format.open_memmap(tmp_path / "g.npy", mode="w+", dtype=np.float32, shape=emb.shape)
    stored[:] = emb
    query = emb[11] + 0.05
    np.testing.assert_allclose(ChunkedExactSearch(stored, metric).distances(query),
                               ExactSearch(emb, metric).distances(query), rtol=1e-4, atol=1e-4)
    monkeypatch.setattr("gaitreid.gallery.search.EXACT_COPY_MAX_BYTES", 1000)
    assert build_search(stored, metric, "exact").kind == "exact-chunked"


def test_index_is_saved_and_reloaded_with_the_same_answers(tmp_path):
    emb, _ = clustered_embeddings(100, 5)
    built = IndexSearch(emb, "euclidean")
    built.save(tmp_path / "g.faiss")
    loaded = IndexSearch.load(tmp_path / "g.faiss", emb, "euclidean")
    for row in (0, 17, 333):
        a, b = built.nearest(emb[row], 5), loaded.nearest(emb[row], 5)
        np.testing.assert_array_equal(a.rows, b.rows)
    with pytest.raises(GaitReidError, match="does not match the gallery"):
        IndexSearch.load(tmp_path / "g.faiss", emb[:10], "euclidean")
