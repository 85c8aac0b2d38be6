"""Per-chunk statistics: weighted correlations, mutual top-k on the candidate graph, bootstrap."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from empirics.engine.matching import match_neurons
from empirics.records.chunks import (
    ChunkStats,
    multinomial_weights,
    mutual_on_graph,
    resampled_counts,
)
from tests.empirics.conftest import brute_mutual, make_source


@settings(max_examples=40)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 7), m=st.integers(1, 7),
       k=st.integers(1, 3), levels=st.integers(2, 6))
def test_graph_mutual_on_a_complete_graph_equals_brute_force(seed, n, m, k, levels):
    rng = np.random.default_rng(seed)
    r = rng.integers(0, levels, size=(n, m)).astype(float)  # many exact ties
    a, b = np.divmod(np.arange(n * m), m)
    mask = mutual_on_graph(a, b, r.ravel()[None, :], k)[0]
    assert set(zip(a[mask].tolist(), b[mask].tolist())) == brute_mutual(r, k)


def test_unit_weights_reproduce_the_engine_count(planted):
    a, b, _ = planted
    source = make_source(a, b, list(range(150, 3000, 150)))
    for k in (1, 2):
        found = match_neurons(source, k=k, candidates=3, groups=5)
        counts = resampled_counts(found.chunks, np.ones((1, 5)), k=k)
        assert counts[0] == len(found.index_a)
        assert found.chunks.n_groups == 5 and found.chunks.tokens.sum() == a.shape[0]


def test_weights_equal_repeating_the_batches(rng):
    """Weight w_g on group g gives the Pearson r of the data with group g repeated w_g times."""
    tokens, n, m, groups = 600, 6, 5, 4
    a = rng.standard_normal((tokens, n)) + 40.0
    b = 0.7 * a[:, :m] + rng.standard_normal((tokens, m))
    cuts = np.linspace(0, tokens, groups + 1).astype(int)
    found = match_neurons(make_source(a, b, cuts[1:-1]), candidates=m, groups=groups)
    weights = np.array([[2.0, 0.0, 1.0, 1.0], [0.0, 3.0, 0.0, 1.0]])
    r = found.chunks.correlations(weights)
    for w, row in zip(weights, r):
        take = np.concatenate([np.repeat(np.arange(lo, hi)[None], int(c), 0).ravel()
                               for lo, hi, c in zip(cuts, cuts[1:], w)])
        full = np.corrcoef(a[take], b[take], rowvar=False)[:n, n:]
        np.testing.assert_allclose(row, full[found.chunks.edge_a, found.chunks.edge_b],
                                   atol=1e-6, rtol=0)


def test_bootstrap_spreads_a_weak_match_and_keeps_strong_ones(rng):
    tokens, n = 4000, 20
    a = rng.standard_normal((tokens, n))
    b = a + 0.3 * rng.standard_normal((tokens, n))
    noise = rng.standard_normal((tokens, n))
    source = make_source(a, b, list(range(100, tokens, 100)))
    strong = match_neurons(source, candidates=3, groups=40)
    weights = multinomial_weights(40, 200, rng=np.random.default_rng(0))
    assert np.all(resampled_counts(strong.chunks, weights) == n)
    weak = match_neurons(make_source(a, noise, list(range(100, tokens, 100))), candidates=3,
                         groups=40)
    counts = resampled_counts(weak.chunks, weights)
    assert counts.std() > 0 and abs(counts.mean() - len(weak.index_a)) < 4


def test_multinomial_weights_are_seeded_and_sum_to_the_groups():
    w = multinomial_weights(7, 50, rng=np.random.default_rng(1))
    assert w.shape == (50, 7) and np.all(w.sum(axis=1) == 7)
    assert np.array_equal(w, multinomial_weights(7, 50, rng=np.random.default_rng(1)))


def test_wrong_weight_shape_and_bad_groups_are_errors(planted):
    a, b, _ = planted
    found = match_neurons(make_source(a, b, [1000, 2000]), groups=3)
    with pytest.raises(ValueError, match="weights have 2 groups"):
        found.chunks.correlations(np.ones((1, 2)))
    with pytest.raises(ValueError, match="groups must be"):
        match_neurons(make_source(a, b, []), groups=-1)


def test_resampling_needs_no_torch():
    import subprocess
    import sys

    code = ("import sys; sys.modules['torch'] = None\n"
            "import numpy as np\n"
            "from empirics.records.chunks import ChunkStats, resampled_counts\n"
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_more_groups_than_batches_leave_no_empty_group_and_no_empty_resample(planted):

    a, b, _ = planted
    found = match_neurons(make_source(a, b, [750, 1500, 2250]), groups=64)
    assert found.chunks.n_groups == 4 and (found.chunks.tokens > 0).all()
    weights = multinomial_weights(4, 500, rng=np.random.default_rng(0))
    counts = resampled_counts(found.chunks, weights)
    assert np.isfinite(counts).all() and (counts > 0).all()


def test_records_saved_with_empty_groups_drop_them_exactly(planted):
    a, b, _ = planted
    found = match_neurons(make_source(a, b, [1500]), groups=2)
    padded = {name: np.concatenate([value, np.zeros_like(value[:1])])
              if name not in ("edge_a", "edge_b") else value
              for name, value in found.chunks.as_arrays().items()}
    stats = ChunkStats(**padded)
    assert stats.n_groups == 3 and stats.nonempty().n_groups == 2
    np.testing.assert_array_equal(stats.nonempty().correlations(),
                                  found.chunks.correlations())
