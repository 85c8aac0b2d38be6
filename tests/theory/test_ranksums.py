"""Sums over ranks: Euler-Maclaurin tails against brute-force summation."""

import numpy as np
import pytest
from scipy import special

from theory.benefit import KurtosisBenefit, QuadraticBenefit
from theory.kkt import isolation_at_price, price_sums
from theory.params import AllocationParams
from theory.ranksums import last_true_rank, power_sum, smooth_sum


@pytest.mark.parametrize("beta", [1.1, 1.5, 3.0])
def test_euler_maclaurin_tail_equals_brute_force(beta):
    f = lambda r: r**-beta  # noqa: E731
    df = lambda r: -beta * r ** (-beta - 1)  # noqa: E731
    lo, hi = 7, 2_000_000
    exact = np.sum(np.arange(lo, hi + 1, dtype=np.float64)[::-1] ** -beta)
    assert smooth_sum(f, df, lo, hi) == pytest.approx(exact, rel=1e-14)
    # With the tail starting at rank ~1000 the next Euler-Maclaurin term is ~1e-15 relative.
    assert smooth_sum(f, df, lo, hi, n_explicit=1000) == pytest.approx(exact, rel=1e-13)
    assert power_sum(beta, lo, hi) == pytest.approx(exact, rel=1e-13)
    assert power_sum(beta, 1, np.inf) == pytest.approx(special.zeta(beta), rel=1e-15)


@pytest.mark.parametrize("benefit", [KurtosisBenefit(10.0), QuadraticBenefit(0.8)])
def test_total_isolation_equals_brute_force_at_a_million_features(benefit):
    params = AllocationParams(beta=1.2, benefit=benefit)
    n, price = 2e6, 1.0 / 2e6  # r_0 ~ 1e6: every partial feature summed one by one below
    a = int(params.rho * n)
    sums = price_sums(params, price, a)
    assert 1e5 < sums.n_positive < a  # far past the 2^15 ranks summed term by term
    ranks = np.arange(1, sums.n_positive + 1, dtype=np.float64)
    brute = np.sum(np.sort(isolation_at_price(params, ranks, price)))
    assert sums.total_isolation == pytest.approx(brute, rel=1e-12)


def test_last_true_rank_finds_the_boundary():
    for edge in (0, 1, 2, 17, 10**12):
        assert last_true_rank(lambda r: r <= edge, 4 * 10**12) == edge
    assert last_true_rank(lambda r: True, 5) == 5
    assert last_true_rank(lambda r: True, 0) == 0
