"""Rosetta counts recomputed under resampling of input chunks, from per-chunk statistics.

The engine keeps, for every chunk group g (batches of whole documents or images), the sums of
z-scores, of their squares and of the products over a *candidate graph*: the edges (i, j) where
j is among the best partners of i or i among the best partners of j. Multinomial weights over
the groups give a weighted Pearson r on every edge, and mutual top-k on the graph gives the
resampled Rosetta count without re-running any model. This module needs NumPy only, so the
bridge reads it without torch.

Notes
-----
Mutual top-k on the candidate graph equals mutual top-k on the full n x m matrix whenever each
neuron's resampled best k partners are among its kept candidates: with unit weights it is
exact (a row's kept partners dominate every other edge of that row). Keeping a few more
candidates than k (``candidates`` in `match_neurons`) makes the resampled count exact unless
a resample promotes a partner from outside a neuron's top few, which near-ties allow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ChunkStats:
    """Per-group sums over the candidate graph (float64; z-scores from the stream's moments).

    Shapes: `tokens` (G,); `sum_a`, `sumsq_a` (G, n); `sum_b`, `sumsq_b` (G, m);
    `edge_a`, `edge_b` (E,); `cross` (G, E) = sum over the group of z_a[edge_a] z_b[edge_b].
    """

    tokens: np.ndarray
    sum_a: np.ndarray
    sumsq_a: np.ndarray
    sum_b: np.ndarray
    sumsq_b: np.ndarray
    edge_a: np.ndarray
    edge_b: np.ndarray
    cross: np.ndarray

    def __post_init__(self):
        groups, edges = len(self.tokens), len(self.edge_a)
        n, m = self.sum_a.shape[-1], self.sum_b.shape[-1]
        shapes = {"sum_a": (groups, n), "sumsq_a": (groups, n), "sum_b": (groups, m),
                  "sumsq_b": (groups, m), "cross": (groups, edges), "edge_b": (edges,)}
        for name, shape in shapes.items():
            if getattr(self, name).shape != shape:
                raise ValueError(f"chunk statistics: {name} has shape "
                                 f"{getattr(self, name).shape}, expected {shape}")
        if np.any(self.tokens < 0) or not np.isfinite(self.cross).all():
            raise ValueError("chunk statistics hold negative token counts or non-finite sums")

    @property
    def n_groups(self) -> int:
        return len(self.tokens)

    def nonempty(self) -> ChunkStats:
        """The same statistics without the groups that received no batch (fewer batches
        than groups): an empty group adds nothing to any sum, so dropping it changes no
        correlation, and a resample of the remaining groups always has tokens."""
        keep = self.tokens > 0
        if keep.all():
            return self
        if not keep.any():
            raise ValueError("chunk statistics of an empty stream")
        return ChunkStats(tokens=self.tokens[keep], sum_a=self.sum_a[keep],
                          sumsq_a=self.sumsq_a[keep], sum_b=self.sum_b[keep],
                          sumsq_b=self.sumsq_b[keep], edge_a=self.edge_a, edge_b=self.edge_b,
                          cross=self.cross[keep])

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    def correlations(self, weights: np.ndarray | None = None) -> np.ndarray:
        """Weighted Pearson r of every edge, shape (B, E) for weights of shape (B, G).

        Edges whose neuron has no spread under a resample get -inf (never matched).
        """
        w = np.ones((1, self.n_groups)) if weights is None else np.atleast_2d(weights)
        if w.shape[1] != self.n_groups:
            raise ValueError(f"weights have {w.shape[1]} groups; the statistics have "
                             f"{self.n_groups}")
        count = w @ self.tokens
        mean_a, var_a = _weighted_moments(w, self.sum_a, self.sumsq_a, count)
        mean_b, var_b = _weighted_moments(w, self.sum_b, self.sumsq_b, count)
        ma, mb = mean_a[:, self.edge_a], mean_b[:, self.edge_b]
        cov = (w @ self.cross) / count[:, None] - ma * mb
        denom = var_a[:, self.edge_a] * var_b[:, self.edge_b]
        with np.errstate(invalid="ignore", divide="ignore"):
            r = cov / np.sqrt(denom)
        return np.where(denom > 1e-24, r, -np.inf)


def _weighted_moments(w, sums, sumsq, count):
    mean = (w @ sums) / count[:, None]
    return mean, np.maximum((w @ sumsq) / count[:, None] - mean**2, 0.0)


def mutual_on_graph(edge_a: np.ndarray, edge_b: np.ndarray, r: np.ndarray,
                    k: int = 1) -> np.ndarray:
    """Mask (B, E) of edges that are mutual top-k on the graph, for each row of `r` (B, E).

    Ties go to the lower index, as in the engine; edges with r = -inf never match.
    """
    r = np.atleast_2d(r)
    if k == 1:
        return _best_of(edge_a, edge_b, r) & _best_of(edge_b, edge_a, r) & np.isfinite(r)
    mask = np.zeros(r.shape, dtype=bool)
    for row, values in enumerate(r):
        mask[row] = ((_ranks(edge_a, edge_b, values) < k)
                     & (_ranks(edge_b, edge_a, values) < k) & np.isfinite(values))
    return mask


def _best_of(owner: np.ndarray, other: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Per replicate: is each edge its owner's best edge (lower `other` among equals)?"""
    order = np.lexsort((other, owner))
    owners, starts = np.unique(owner[order], return_index=True)
    sorted_r = r[:, order]
    best = np.maximum.reduceat(sorted_r, starts, axis=1)
    slot = np.searchsorted(owners, owner)
    is_max = r == best[:, slot]
    big = np.iinfo(np.int64).max
    first = np.minimum.reduceat(np.where(is_max[:, order], other[order], big), starts, axis=1)
    return is_max & (other[None, :] == first[:, slot])


def _ranks(owner, other, values):
    """Rank of each edge among its owner's edges (best first, lower `other` among ties)."""
    order = np.lexsort((other, -values, owner))
    _, starts, counts = np.unique(owner[order], return_index=True, return_counts=True)
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[order] = np.arange(len(values)) - np.repeat(starts, counts)
    return ranks


def multinomial_weights(n_groups: int, n_resamples: int, *, rng: np.random.Generator):
    """Bootstrap weights (n_resamples, n_groups): counts of each group in a resample."""
    return rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups),
                           size=n_resamples).astype(np.float64)


def resampled_counts(stats: ChunkStats, weights: np.ndarray, *, k: int = 1,
                     min_correlation: float | None = None, batch: int = 64) -> np.ndarray:
    """Rosetta count (mutual top-k pairs, optionally with r >= min_correlation) per resample."""
    counts = []
    for lo in range(0, len(weights), batch):
        r = stats.correlations(weights[lo:lo + batch])
        mutual = mutual_on_graph(stats.edge_a, stats.edge_b, r, k)
        if min_correlation is not None:
            mutual &= r >= min_correlation
        counts.append(mutual.sum(axis=1))
    return np.concatenate(counts)
