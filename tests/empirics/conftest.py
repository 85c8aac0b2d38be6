"""Activation streams with planted structure, built in code."""

import numpy as np
import pytest
import torch


def make_source(a: np.ndarray, b: np.ndarray, splits):
    """A re-iterable stream of aligned batches cut at `splits` (token positions)."""
    edges = [0, *sorted(set(splits)), a.shape[0]]

    def stream():
        for lo, hi in zip(edges, edges[1:]):
            yield torch.from_numpy(a[lo:hi]), torch.from_numpy(b[lo:hi])

    return stream


def brute_mutual(r, k):
    """Mutual top-k on a full matrix by stable sorts (lower index first among ties)."""
    rows = np.argsort(-r, axis=1, kind="stable")[:, :k]
    cols = np.argsort(-r, axis=0, kind="stable")[:k, :]
    pairs = set()
    for i in range(r.shape[0]):
        for j in rows[i]:
            if i in cols[:, j]:
                pairs.add((i, int(j)))
    return pairs


@pytest.fixture
def planted():
    """B holds noisy copies of A's neurons at permuted positions plus unmatched neurons."""
    return planted_arrays()


def planted_arrays(tokens: int = 3000):
    """The `planted` stream's arrays (a, b, where) over `tokens` tokens."""
    rng = np.random.default_rng(7)
    n, m = 40, 64
    a = rng.standard_normal((tokens, n)) * 3.0 + 500.0
    b = rng.standard_normal((tokens, m))
    where = rng.permutation(m)[:n]
    b[:, where] = (a - 500.0) / 3.0 + 0.4 * rng.standard_normal((tokens, n))
    return a, b, where
