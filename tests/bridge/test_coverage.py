"""Coverage of the exponent intervals over many seeds (slow): do they hold their level?

Measured with 1000 seeds per case, alpha = 0.6, sizes 1e7-1e10 (rates at nominal 0.95;
binomial sd about 0.007):

- log-normal scatter (10%): OLS t 0.946 (5 sizes) / 0.949 (8); data-level parametric with
  the true per-size error 0.949 / 0.949; case bootstrap percentile 0.889 / 0.892 and BCa
  0.894 / 0.903 (under-cover, hence only a sensitivity check); quasi-Poisson 0.904 / 0.884
  (its variance function, proportional to the mean, is wrong for multiplicative scatter).
- count scatter (20 x Poisson, variance proportional to the mean): quasi-Poisson 0.947 / 0.960;
  OLS t 0.919 / 0.893 (small counts scatter more in logs, which OLS ignores).

Each estimator holds its level under its own noise model and not under the other's, which is
why the record keeps both and says which is the headline.
"""

import numpy as np
import pytest

from bridge.bootstrap import case_bootstrap, parametric_exponent_ci
from bridge.powerlaw import fit_power_law, fit_power_law_quasi_poisson

ALPHA, N_SEEDS, TOLERANCE = 0.6, 1000, 0.025  # tolerance: about 3.5 binomial sd


def coverage(intervals) -> float:
    return float(np.mean([low <= ALPHA <= high for low, high in intervals]))


def lognormal_counts(n, seed):
    rng = np.random.default_rng(seed)
    return rng, 5.0 * n**ALPHA * np.exp(0.1 * rng.standard_normal(len(n)))


def poisson_counts(n, seed, dispersion=20.0):
    rng = np.random.default_rng(seed)
    return dispersion * rng.poisson(0.05 * n**ALPHA / dispersion).astype(float)


def interval(ci):
    return ci.low, ci.high


@pytest.mark.slow
@pytest.mark.parametrize("k", [5, 8])
def test_coverage_under_lognormal_scatter(k):
    n = np.geomspace(1e7, 1e10, k)
    rates = {"t": [], "data": [], "percentile": [], "bca": [], "quasi-poisson": []}
    for seed in range(N_SEEDS):
        rng, count = lognormal_counts(n, seed)
        rates["t"].append(interval(fit_power_law(n, count)))
        rates["quasi-poisson"].append(interval(fit_power_law_quasi_poisson(n, count)))
        data = parametric_exponent_ci(n, count, 0.1 * count, rng=rng, n_resamples=2000)
        rates["data"].append(interval(data.ci))
        for method in ("percentile", "bca"):
            ci = case_bootstrap(n, count, rng=rng, method=method, n_resamples=2000)
            rates[method].append(interval(ci))
    rates = {name: coverage(values) for name, values in rates.items()}
    print(f"\nlog-normal scatter, {k} sizes, coverage at 0.95: {rates}")
    assert rates["t"] == pytest.approx(0.95, abs=TOLERANCE)
    assert rates["data"] == pytest.approx(0.95, abs=TOLERANCE)
    assert rates["percentile"] < 0.93 and rates["bca"] < 0.93
    assert rates["quasi-poisson"] < 0.93


@pytest.mark.slow
@pytest.mark.parametrize("k", [5, 8])
def test_coverage_under_count_scatter(k):
    n = np.geomspace(1e7, 1e10, k)
    glm, ols = [], []
    for seed in range(N_SEEDS):
        count = poisson_counts(n, seed)
        glm.append(interval(fit_power_law_quasi_poisson(n, count)))
        ols.append(interval(fit_power_law(n, count)))
    rates = {"quasi-poisson": coverage(glm), "t": coverage(ols)}
    print(f"\ncount scatter, {k} sizes, coverage at 0.95: {rates}")
    assert rates["quasi-poisson"] == pytest.approx(0.95, abs=TOLERANCE)
    assert rates["t"] < 0.93
