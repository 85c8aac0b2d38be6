"""Reduced-precision products stay exact: the error bound holds, near-ties are redone."""

import numpy as np
import pytest
import torch

from empirics.engine.matching import match_neurons
from empirics.engine.moments import stream_moments
from empirics.engine.reduced import error_bound
from tests.empirics.conftest import brute_mutual, make_source


def near_tied_groups(seed: int, groups: int = 16, tokens: int = 20000):
    """Pairs of near-copies on both sides (a group's four r within ~1e-4 of each other):
    a row's and a column's single candidate can both miss the true best edge."""
    rng = np.random.default_rng(seed)
    z = np.repeat(rng.standard_normal((tokens, groups)), 2, axis=1)
    jitter = rng.uniform(0.005, 0.02, 2 * groups)
    a = z + jitter * rng.standard_normal((tokens, 2 * groups))
    b = 0.8 * z + 0.6 * np.repeat(rng.standard_normal((tokens, groups)), 2, axis=1)
    b += jitter[::-1] * rng.standard_normal((tokens, 2 * groups))
    return a.astype(np.float32), b.astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_near_ties_with_one_candidate_give_the_float64_pairs(seed, dtype):
    """With candidates == k the re-check alone returned 19-21 pairs against 16 (wrong
    partners among near-ties); the lines the bound leaves unproven are now redone in
    float32."""
    a, b = near_tied_groups(seed)
    r = np.corrcoef(a.astype(np.float64), b.astype(np.float64), rowvar=False)[:32, 32:]
    found = match_neurons(make_source(a, b, range(2000, 20000, 2000)), dtype=dtype,
                          block_rows=4)
    assert set(zip(found.index_a.tolist(), found.index_b.tolist())) == brute_mutual(r, 1)
    np.testing.assert_allclose(found.correlation, r[found.index_a, found.index_b], atol=1e-6)
    assert found.passes > 8 + 1  # the blocks, the re-check, and the redone lines


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_block_estimates_stay_within_the_error_bound(planted, dtype):
    a, b, _ = planted
    source = make_source(a, b, [700, 1900])
    found = match_neurons(source, dtype=dtype, block_rows=8, candidates=5)
    r = np.corrcoef(a, b, rowvar=False)[:40, 40:]
    later = slice(8, None)  # the first block's products run in float32 with the moments
    exact = np.take_along_axis(r[later], found.row_partners[later], 1)
    gap = np.abs(found.row_r[later] - exact).max()
    bound = error_bound(dtype, stream_moments(source))
    assert 0 < gap <= bound < 0.02


def test_only_unproven_lines_are_redone(planted):
    """Every row has a clear partner (proven: no redo); most of B's 24 unmatched noise
    neurons have none (their best r ~0.02 lie within the bound of each other), so their
    columns are redone (passes of up to 8 lines), then re-checked once more. Without them
    the run makes its 5 block passes and the re-check only."""
    a, b, where = planted
    source = make_source(a, b, [1500])
    fast = match_neurons(source, dtype=torch.bfloat16, block_rows=8, candidates=3)
    assert fast.passes > 5 + 1 and np.array_equal(fast.index_b, where)
    matched = make_source(a, b[:, where], [1500])
    assert match_neurons(matched, dtype=torch.bfloat16, block_rows=8,
                         candidates=3).passes == 5 + 1
