"""The KKT map of the allocation program: everything that follows from one price lambda.

For every closure the optimum has the form s_r = clip((B')^-1(lambda / w_r), 0, 1); the
closure only decides lambda (theory.closures). This module evaluates the allocation at a
price, its sums over all represented features (exact for the first ranks, Euler-Maclaurin
beyond; theory.ranksums), frontiers and KKT residuals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from theory.params import AllocationParams
from theory.ranksums import last_true_rank, power_sum, smooth_sum


def importance(params: AllocationParams, ranks) -> np.ndarray:
    """w_r = w1 r^-beta."""
    return params.w1 * np.asarray(ranks, dtype=np.float64) ** -params.beta


def isolation_at_price(params: AllocationParams, ranks, price: float) -> np.ndarray:
    """s_r = clip((B')^-1(price / w_r), 0, 1); a zero price isolates every feature fully."""
    ranks = np.asarray(ranks, dtype=np.float64)
    if price == 0.0:
        return np.ones_like(ranks)
    y = price / importance(params, ranks)
    return np.clip(params.benefit.inverse_slope(y), 0.0, 1.0)


def frontier(params: AllocationParams, price: float, level: float) -> float:
    """The real rank r_x at which s_r crosses `level` x: w1 r^-beta B'(x) = price."""
    if price == 0.0:
        return math.inf
    return float((params.w1 * params.benefit.slope(level) / price) ** (1.0 / params.beta))


def represented_count(params: AllocationParams, n_neurons: float) -> float:
    """a(N) = min(F, floor(rho N)): features represented at all (at least one)."""
    return float(max(1.0, min(params.n_features, math.floor(params.rho * n_neurons))))


@dataclass(frozen=True)
class PriceSums:
    """Counts and sums of the allocation at one price over the represented ranks 1..a."""

    price: float
    n_represented: float
    n_saturated: int  # s_r = 1
    n_positive: int  # s_r > 0
    total_isolation: float  # S = sum_r s_r

    @property
    def partial_ranks(self) -> tuple[int, int]:
        return self.n_saturated + 1, self.n_positive


def price_sums(params: AllocationParams, price: float, n_represented: float) -> PriceSums:
    """Evaluate the counts of saturated and positive features and S at `price`."""
    a = int(n_represented)
    if price == 0.0:
        return PriceSums(price, n_represented, a, a, float(a))
    n_sat = last_true_rank(lambda r: isolation_at_price(params, r, price) >= 1.0, a)
    n_pos = last_true_rank(lambda r: isolation_at_price(params, r, price) > 0.0, a)
    partial = _isolation_sum(params, price, n_sat + 1, n_pos)
    return PriceSums(price, n_represented, n_sat, n_pos, n_sat + partial)


def unexplained_importance(params: AllocationParams, sums: PriceSums) -> float:
    """W = sum_{r <= a} w_r (1 - B(s_r)): the importance left unserved by isolation."""
    lo, hi = sums.partial_ranks
    benefit, price, beta = params.benefit, sums.price, params.beta

    def f(r):
        return importance(params, r) * (1.0 - benefit.value(isolation_at_price(params, r, price)))

    def df(r):
        # d/dr [w (1 - B(s))] = -beta w (1 - B)/r - w B'(s) s', and w B'(s) = price inside.
        return -beta * f(r) / r - price * _isolation_slope(params, r, price)

    superposed = params.w1 * power_sum(beta, sums.n_positive + 1, sums.n_represented)
    return smooth_sum(f, df, lo, hi) + superposed


def _isolation_sum(params: AllocationParams, price: float, lo: int, hi: int) -> float:
    return smooth_sum(
        lambda r: isolation_at_price(params, r, price),
        lambda r: _isolation_slope(params, r, price),
        lo,
        hi,
    )


def _isolation_slope(params: AllocationParams, ranks, price: float) -> np.ndarray:
    """ds_r/dr inside the partial regime: beta y / (r B''(s)) with y = price / w_r."""
    ranks = np.asarray(ranks, dtype=np.float64)
    y = price / importance(params, ranks)
    s = params.benefit.inverse_slope(y)
    return params.beta * y / (ranks * params.benefit.curvature(s))


def rosetta_isolation_sum(params: AllocationParams, sums: PriceSums, n_rosetta: int) -> float:
    """sum_{r <= R} s_r: the saturated core plus the partial features above tau."""
    return sums.n_saturated + _isolation_sum(params, sums.price, sums.n_saturated + 1, n_rosetta)


def kkt_residual(params: AllocationParams, price: float, ranks) -> float:
    """Largest relative violation of the KKT stationarity/complementarity over `ranks`.

    Interior features need w_r B'(s_r) = price; features at s = 0 need w_r B'(0) <= price;
    features at s = 1 need w_r B'(1) >= price. Each residual is relative to w_r B'(s_r).
    """
    ranks = np.unique(np.asarray(ranks, dtype=np.float64))
    s = isolation_at_price(params, ranks, price)
    marginal = importance(params, ranks) * params.benefit.slope(s)
    ratio = price / marginal
    interior = (s > 0.0) & (s < 1.0)
    residual = np.where(interior, np.abs(ratio - 1.0), 0.0)
    residual = np.where(s == 0.0, np.maximum(0.0, 1.0 - ratio), residual)
    residual = np.where(s == 1.0, np.maximum(0.0, ratio - 1.0), residual)
    return float(residual.max(initial=0.0))


def probe_ranks(sums: PriceSums, n_rosetta: int, n_dense: int = 4096, n_log: int = 256):
    """Ranks at which residuals are checked: the first ones, each frontier's neighbours and a
    log-spaced sample up to a(N)."""
    a = sums.n_represented
    edges = [sums.n_saturated, n_rosetta, sums.n_positive]
    near = [e + d for e in edges for d in (0, 1)]
    ranks = np.concatenate(
        [np.arange(1, min(a, n_dense) + 1), np.geomspace(1, a, n_log).round(), near]
    )
    return ranks[(ranks >= 1) & (ranks <= a)]
