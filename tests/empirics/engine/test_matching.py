"""Mutual nearest neighbours / mutual top-k from streamed blocks."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from empirics.engine.matching import match_neurons
from empirics.engine.nulls import permute_tokens
from empirics.records.neurons import layer_units
from tests.empirics.conftest import brute_mutual, make_source


@pytest.mark.parametrize("block_rows", [1, 7, 40])
def test_planted_permutation_is_recovered(planted, block_rows):
    a, b, where = planted
    found = match_neurons(make_source(a, b, [500, 1700]), block_rows=block_rows)
    assert np.array_equal(found.index_a, np.arange(a.shape[1]))
    assert np.array_equal(found.index_b, where)
    assert found.correlation.min() > 0.8 and found.n_tokens == a.shape[0]


def test_swapping_the_models_gives_the_same_pairs(planted):
    a, b, _ = planted
    forward = match_neurons(make_source(a, b, [900]), k=3)
    backward = match_neurons(make_source(b, a, [900]), k=3)
    assert set(zip(forward.index_a, forward.index_b)) == set(zip(backward.index_b,
                                                                 backward.index_a))


def test_mutual_top_k_grows_with_k_and_contains_top_1(planted):
    a, b, _ = planted
    source = make_source(a, b, [1000])
    pairs = [set(zip(*(lambda m: (m.index_a, m.index_b))(match_neurons(source, k=k))))
             for k in (1, 2, 5)]
    assert pairs[0] <= pairs[1] <= pairs[2] and len(pairs[2]) > len(pairs[0])


def test_permutation_null_destroys_the_planted_matches(planted):
    a, b, _ = planted
    null = match_neurons(permute_tokens(make_source(a, b, [1000, 2000]), seed=3),
                         min_correlation=0.2)
    assert len(null.index_a) == 0
    again = match_neurons(permute_tokens(make_source(a, b, [1000, 2000]), seed=3))
    repeat = match_neurons(permute_tokens(make_source(a, b, [1000, 2000]), seed=3))
    assert np.array_equal(again.index_b, repeat.index_b)


def test_dead_neurons_are_excluded_and_counted(planted):
    a, b, _ = planted
    a, b = a.copy(), b.copy()
    a[:, 3] = 2.5
    b[:, [0, 1]] = -1.0
    found = match_neurons(make_source(a, b, [100]))
    assert found.dead_a.sum() == 1 and found.dead_b.sum() == 2
    assert 3 not in found.index_a and not set(found.index_b) & {0, 1}
    assert np.all(np.isfinite(found.correlation))


def test_ties_go_to_the_lower_index(rng):
    a = rng.standard_normal((400, 3))
    b = np.concatenate([a[:, [1]], a[:, [1]], rng.standard_normal((400, 2))], axis=1)
    found = match_neurons(make_source(a, b, [150]), block_rows=1)
    assert (1, 0) in set(zip(found.index_a, found.index_b))
    assert 1 not in found.index_b


def test_threshold_and_bad_k(planted):
    a, b, _ = planted
    assert len(match_neurons(make_source(a, b, []), min_correlation=0.999).index_a) == 0
    with pytest.raises(ValueError, match="k must be"):
        match_neurons(make_source(a, b, []), k=0)


def test_layer_units_maps_global_indices():
    layer, unit = layer_units(np.array([0, 3, 4, 9]), [4, 4, 2])
    assert layer.tolist() == [0, 0, 1, 2] and unit.tolist() == [0, 3, 0, 1]
    with pytest.raises(ValueError, match="out of range"):
        layer_units(np.array([10]), [4, 4, 2])


def test_runs_on_float64_products_too(planted):
    a, b, where = planted
    found = match_neurons(make_source(a, b, []), dtype=torch.float64)
    assert np.array_equal(found.index_b, where)


def test_pairs_are_rechecked_in_float64(planted):
    a, b, _ = planted
    found = match_neurons(make_source(a, b, [1234]), dtype=torch.float16)
    reference = np.corrcoef(a, b, rowvar=False)[: a.shape[1], a.shape[1]:]
    np.testing.assert_allclose(found.correlation, reference[found.index_a, found.index_b],
                               atol=1e-6, rtol=0)
    assert found.rechecked and 0 < found.max_recheck_change < 1e-2


def test_sorted_topk_equals_a_stable_full_sort(rng):
    from empirics.engine.topk import sorted_topk

    values = torch.from_numpy(rng.integers(0, 4, size=(50, 30)).astype(np.float64))
    values[3] = -torch.inf
    for dim in (0, 1):
        for k in (1, 3, 30):
            full, order = torch.sort(values, dim=dim, descending=True, stable=True)
            best, index = sorted_topk(values, k, dim)
            assert torch.equal(best, full.narrow(dim, 0, min(k, values.shape[dim])))
            assert torch.equal(index, order.narrow(dim, 0, min(k, values.shape[dim])))


def test_a_first_batch_far_from_the_rest_triggers_one_redo(rng):
    a = rng.standard_normal((4000, 8)).astype(np.float32) + 1000.0
    b = (0.5 * (a - 1000.0) + rng.standard_normal((4000, 8))).astype(np.float32)
    a[:200] += 40.0  # the first batch's offsets sit ~4 standard deviations off the means
    source = make_source(a, b, [200, 2000])
    found = match_neurons(source, k=8)
    assert found.passes == 2
    exact = np.corrcoef(a.astype(float), b.astype(float), rowvar=False)[:8, 8:]
    np.testing.assert_allclose(found.row_r, np.take_along_axis(exact, found.row_partners, 1),
                               atol=1e-6, rtol=0)
    assert match_neurons(make_source(a[200:], b[200:], [1800])).passes == 1


def test_reduced_precision_with_spare_candidates_gives_the_float32_pairs(rng):
    """Near-duplicate columns make bfloat16 products pick wrong partners; the float32
    re-check of three candidates per neuron restores the exact answer. (The first block is
    multiplied in float32 with the moments pass, so the later blocks carry the errors.)"""
    a = rng.standard_normal((3000, 60))
    b = np.concatenate([a + 0.5 * rng.standard_normal(a.shape),
                        a + 0.5 * rng.standard_normal(a.shape)], axis=1)
    source = make_source(a, b, [1000, 2000])
    exact = match_neurons(source, dtype=torch.float64)
    fast = match_neurons(source, dtype=torch.bfloat16, candidates=3, block_rows=6)
    assert fast.rechecked and fast.changed_pairs > 0
    assert np.array_equal(fast.index_b, exact.index_b)
    np.testing.assert_allclose(fast.correlation, exact.correlation, atol=1e-6)


def test_match_under_seeds_runs_every_seed(planted):
    from empirics.engine.nulls import match_under_seeds

    a, b, _ = planted
    source = make_source(a, b, [1000, 2000])
    runs = match_under_seeds(lambda s: permute_tokens(source, seed=s), [0, 1, 2],
                             min_correlation=0.2)
    assert sorted(runs) == [0, 1, 2] and all(len(m.index_a) == 0 for m in runs.values())
    loose = match_under_seeds(lambda s: permute_tokens(source, seed=s), [0, 1])
    assert not np.array_equal(loose[0].index_b, loose[1].index_b)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), tokens=st.integers(30, 300), n=st.integers(1, 12),
       m=st.integers(1, 12), k=st.integers(1, 3), block_rows=st.integers(1, 13),
       splits=st.lists(st.integers(1, 299), max_size=4))
def test_engine_equals_mutual_top_k_of_corrcoef(seed, tokens, n, m, k, block_rows, splits):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((tokens, n)) + 100.0
    b = 0.5 * a[:, rng.integers(0, n, m)] + rng.standard_normal((tokens, m))
    found = match_neurons(make_source(a, b, [s for s in splits if s < tokens]), k=k,
                          block_rows=block_rows)
    r = np.corrcoef(a, b, rowvar=False)[:n, n:]
    assert set(zip(found.index_a.tolist(), found.index_b.tolist())) == brute_mutual(r, k)
    np.testing.assert_allclose(found.correlation, r[found.index_a, found.index_b], atol=1e-6)


def test_memory_sets_the_block_size_and_not_the_result(planted):
    from empirics.engine.blocks import BYTES_PER_ENTRY
    from empirics.engine.kernel import available_memory, block_size_for

    a, b, where = planted
    source = make_source(a, b, [1500])
    assert block_size_for(64, 64 * 32 * 5) == 5 and available_memory("cpu") > 0
    small = match_neurons(source, memory_bytes=64 * BYTES_PER_ENTRY * 5)
    assert small.block_rows == 5 and np.array_equal(small.index_b, where)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_reduced_precision_loses_no_pair_to_a_tiny_first_batch_or_an_overflow(dtype):
    """A 3-token first batch with almost no spread (its std misjudges the stream's by orders
    of magnitude), neurons on scales from 1e-3 to 1e3, and one batch of 72,000 tokens whose
    float16 products of a r = 0.97 pair exceed 65504: float32 and reduced products must
    find the same pairs with the same r."""
    rng = np.random.default_rng(11)
    tokens, n = 75_000, 16
    base = rng.standard_normal((tokens, n))
    noise = rng.standard_normal((tokens, n))
    weights = np.linspace(0.25, 0.97, n)  # pair correlations from 0.25 to 0.97
    scale_a, scale_b = 10.0 ** rng.uniform(-3, 3, n), 10.0 ** rng.uniform(-3, 3, n)
    a = base * scale_a + 7.0 * scale_a
    b = (weights * base + np.sqrt(1 - weights**2) * noise) * scale_b
    a[:3] = 7.0 * scale_a * (1 + 1e-6 * rng.standard_normal((3, n)))  # a near-constant start
    source = make_source(a.astype(np.float32), b.astype(np.float32), [3, 3000])
    exact = match_neurons(source, block_rows=4)
    reduced = match_neurons(source, dtype=dtype, block_rows=4, candidates=3)
    assert exact.index_a.tolist() == reduced.index_a.tolist() == list(range(n))
    assert reduced.index_b.tolist() == list(range(n))
    np.testing.assert_allclose(reduced.correlation, exact.correlation, atol=1e-5)
    assert np.isfinite(reduced.row_r[:, 0]).all()
    assert exact.correlation.max() > 0.96 and (exact.correlation > 0.75).sum() >= 4
