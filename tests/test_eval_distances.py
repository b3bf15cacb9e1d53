"""Distances: hand-computed values, and chunked computation equals the dense definition."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gaitreid.errors import GaitReidError
from gaitreid.evaluation.distances import distance_chunks, pairwise_distances, top_k


def dense_reference(q: np.ndarray, g: np.ndarray, metric: str) -> np.ndarray:
    """Pair by pair, straight from the definition (mean over parts of the per-part distance)."""
    out = np.zeros((len(q), len(g)))
    for a in range(len(q)):
        for b in range(len(g)):
            per_part = []
            for j in range(q.shape[2]):
                x, y = q[a, :, j], g[b, :, j]
                if metric == "euclidean":
                    per_part.append(np.linalg.norm(x - y))
                else:
                    nx, ny = max(np.linalg.norm(x), 1e-12), max(np.linalg.norm(y), 1e-12)
                    per_part.append(1.0 - float(x @ y) / (nx * ny))
            out[a, b] = np.mean(per_part)
    return out


def test_euclidean_by_hand():
    # two parts: part 0 differs by (3, 4) -> 5, part 1 identical -> 0; mean 2.5
    q = np.array([[[0.0, 1.0], [0.0, 2.0]]])  # [1, c=2, p=2]
    g = np.array([[[3.0, 1.0], [4.0, 2.0]]])
    assert pairwise_distances(q, g)[0, 0] == pytest.approx(2.5)


def test_cosine_by_hand():
    # part 0 orthogonal -> 1, part 1 opposite -> 2; mean 1.5
    q = np.array([[[1.0, 1.0], [0.0, 0.0]]])
    g = np.array([[[0.0, -2.0], [1.0, 0.0]]])
    assert pairwise_distances(q, g, metric="cosine")[0, 0] == pytest.approx(1.5)


def test_two_dimensional_embeddings_are_one_part():
    q = np.array([[0.0, 0.0]])
    g = np.array([[3.0, 4.0]])
    assert pairwise_distances(q, g)[0, 0] == pytest.approx(5.0)


def test_unknown_metric_and_shape_mismatch_are_clear_errors():
    with pytest.raises(GaitReidError, match="unknown distance metric"):
        pairwise_distances(np.zeros((1, 2, 1)), np.zeros((1, 2, 1)), metric="manhattan")
    with pytest.raises(GaitReidError, match="differ in shape"):
        pairwise_distances(np.zeros((1, 2, 1)), np.zeros((1, 3, 1)))


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    shape=st.tuples(st.integers(1, 9), st.integers(1, 9), st.integers(1, 4), st.integers(1, 3)),
    metric=st.sampled_from(["euclidean", "cosine"]),
    budget=st.integers(1, 2000),
)
def test_chunked_equals_dense(data, shape, metric, budget):
    m, n, c, p = shape
    values = st.floats(-5, 5, allow_nan=False, width=64)
    q = data.draw(arrays(np.float64, (m, c, p), elements=values))
    g = data.draw(arrays(np.float64, (n, c, p), elements=values))
    expected = dense_reference(q, g, metric)
    # a tiny byte budget forces one query row per chunk
    chunked = pairwise_distances(q, g, metric=metric, max_chunk_bytes=budget)
    np.testing.assert_allclose(chunked, expected, atol=1e-6)
    starts = [start for start, _, _ in distance_chunks(q, g, metric, max_chunk_bytes=budget)]
    assert starts == sorted(starts) and starts[0] == 0


def test_chunks_respect_the_budget():
    q = np.random.default_rng(0).normal(size=(100, 4, 2))
    g = np.random.default_rng(1).normal(size=(50, 4, 2))
    heights = [stop - start for start, stop, _ in distance_chunks(q, g, max_chunk_bytes=24 * 50 * 7)]
    assert max(heights) == 7 and sum(heights) == 100


def test_top_k_skips_own_group_and_pads():
    x = np.array([[0.0], [1.0], [3.0]])
    idx, dist = top_k(x, x, k=3, query_groups=[0, 1, 2], gallery_groups=[0, 1, 2])
    assert idx[0].tolist() == [1, 2, -1]
    assert dist[0, :2].tolist() == pytest.approx([1.0, 3.0])
    assert np.isinf(dist[0, 2])
    assert idx[2].tolist() == [1, 0, -1]
