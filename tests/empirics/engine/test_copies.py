"""Exact copies of a neuron in different blocks: the lower index wins, as within a block."""

import numpy as np
import pytest
import torch

from empirics.engine.copies import lowest_copies, tie_copies
from empirics.engine.matching import match_neurons
from empirics.engine.moments import batch_moments
from tests.empirics.conftest import brute_mutual, make_source


def copied_streams(seed: int):
    """A with neuron 9 a copy of neuron 2 and 11 of 2 as well; B with 5 a copy of 1; B's 3
    follows A's 2 and A's 7 follows B's 1."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((3000, 12)) * 2 + 5
    b = rng.standard_normal((3000, 6))
    b[:, 3] = a[:, 2] + 0.7 * rng.standard_normal(3000)
    a[:, 7] = b[:, 1] + 0.5 * rng.standard_normal(3000)
    a[:, 9] = a[:, 11] = a[:, 2]
    b[:, 5] = b[:, 1]
    return a.astype(np.float32), b.astype(np.float32)


def tied_truth(a, b, k):
    """Mutual top-k of the float64 matrix with every copy's r set to its original's."""
    r = np.corrcoef(a.astype(np.float64), b.astype(np.float64), rowvar=False)[:12, 12:]
    r[[9, 11]] = r[2]
    r[:, 5] = r[:, 1]
    return brute_mutual(r, k), r


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k, block_rows, dtype", [(1, 4, torch.float32), (2, 3, torch.float32),
                                                  (1, 5, torch.bfloat16)])
def test_copies_in_other_blocks_lose_the_tie_to_the_lowest(seed, k, block_rows, dtype):
    a, b = copied_streams(seed)
    truth, r = tied_truth(a, b, k)
    found = match_neurons(make_source(a, b, [1000, 2000]), k=k, block_rows=block_rows,
                          dtype=dtype, candidates=k + 2)
    pairs = set(zip(found.index_a.tolist(), found.index_b.tolist()))
    assert pairs == truth and (2, 3) in pairs
    assert ((9, 3) in pairs) == (k > 1)  # the copies tie for B's 3: top 2, not top 1
    np.testing.assert_allclose(found.correlation, r[found.index_a, found.index_b], atol=1e-6)


def test_neurons_with_equal_moments_at_other_tokens_are_not_copies():
    """Binary neurons firing equally often (the same mean and M2) at different tokens are
    distinct, and each keeps its own partner (B's copies of them); the check costs one
    pass, and none when no moments are equal."""
    x = np.zeros((400, 2), dtype=np.float32)
    x[:100, 0] = x[100:200, 1] = 1.0
    noise = np.random.default_rng(0).standard_normal((400, 2)).astype(np.float32)
    source = make_source(x + 0 * noise, x.copy(), [150])
    moments, best = (batch_moments(torch.from_numpy(x)),) * 2, (np.ones(2),) * 2
    assert lowest_copies(source, moments, best)[2] == 1
    found = match_neurons(source, block_rows=1)
    assert set(zip(found.index_a.tolist(), found.index_b.tolist())) == {(0, 0), (1, 1)}
    plain = match_neurons(make_source(noise, noise + x, [150]), block_rows=1)
    assert plain.passes == match_neurons(make_source(noise, noise + x, [150])).passes + 1


def test_tied_edges_reach_every_copy_with_one_value():
    edge_a, edge_b, r = np.array([0, 2]), np.array([1, 1]), np.array([0.5, 0.5000001])
    a, b, tied = tie_copies(edge_a, edge_b, r, np.array([0, 1, 0]), np.array([0, 1]))
    assert list(zip(a.tolist(), b.tolist())) == [(0, 1), (2, 1)] and tied.tolist() == [0.5] * 2
    a, b, same = tie_copies(edge_a, edge_b, r, np.arange(3), np.arange(2))
    assert np.array_equal(same, r) and np.array_equal(a, edge_a)
