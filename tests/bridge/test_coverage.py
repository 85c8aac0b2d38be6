"""Coverage of the exponent intervals over many seeds (slow): do they hold their level?

The headline (`fit_power_law_het`: OLS with a counting + scatter variance) is checked in
every cell of docs/coverage.md's grid that the issue names, with 4000 seeds a cell here
(binomial sd about 0.0034 at 0.95) against the band 0.93-0.97 widened by two sd, i.e.
0.923-0.977. docs/coverage.md (python benchmarks/coverage_headline.py --seeds 10000) measured
it at 0.938-0.961 over 32 cells (Poisson, small and averaged counts, log-normal scatter of
10% and 20% with and without counting noise, large counts; 5 and 8 sizes; alpha 0.5 and
0.8), where the constant-variance OLS t interval fell to 0.881 (Poisson, 8 sizes), the
quasi-Poisson one to 0.839 (log-normal scatter) and the case bootstrap percentile to 0.832.

The older checks below (1000 seeds a case, alpha = 0.6, sizes 1e7-1e10; tolerance about 3.5
binomial sd) keep the failure modes of the labelled checks on record:

- log-normal scatter (10%): OLS t 0.946 (5 sizes) / 0.949 (8); data-level parametric with
  the true per-size error 0.949 / 0.949; case bootstrap percentile 0.889 / 0.892 and BCa
  0.894 / 0.903 (under-cover, hence only a sensitivity check); quasi-Poisson 0.904 / 0.884
  (its variance function, proportional to the mean, is wrong for multiplicative scatter).
- count scatter (20 x Poisson, variance proportional to the mean): quasi-Poisson 0.947 / 0.960;
  OLS t 0.919 / 0.893 (small counts scatter more in logs, which OLS ignores).
"""

import numpy as np
import pytest
from scipy import stats

from bridge.bootstrap import case_bootstrap, parametric_exponent_ci
from bridge.powerlaw import fit_power_law, fit_power_law_quasi_poisson
from bridge.variance import het_slopes

ALPHA, N_SEEDS, TOLERANCE = 0.6, 1000, 0.025  # tolerance: about 3.5 binomial sd
HEADLINE_SEEDS, HEADLINE_BAND = 4000, (0.923, 0.977)  # 0.93-0.97 widened by 2 binomial sd
#: name -> (log-normal sd of the mean, Poisson counts?), at R = 20 (N / 1e7)^alpha.
HEADLINE_NOISES = {"poisson": (0.0, True), "lognormal-10": (0.1, False),
                   "lognormal-20": (0.2, False), "poisson-lognormal-10": (0.1, True)}


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


def headline_counts(noise, k, alpha, seed):
    sigma, poisson = HEADLINE_NOISES[noise]
    rng = np.random.default_rng(seed)
    n = np.geomspace(1e7, 1e10, k)
    mean = 20.0 * (n / n[0]) ** alpha * np.exp(sigma * rng.standard_normal((HEADLINE_SEEDS, k)))
    return n, rng.poisson(mean).astype(float) if poisson else mean


@pytest.mark.slow
@pytest.mark.parametrize("alpha", [0.5, 0.8])
@pytest.mark.parametrize("k", [5, 8])
@pytest.mark.parametrize("noise", sorted(HEADLINE_NOISES))
def test_headline_covers_under_counting_noise_and_scatter(noise, k, alpha):
    seed = [k, round(10 * alpha), sorted(HEADLINE_NOISES).index(noise)]
    n, counts = headline_counts(noise, k, alpha, seed)
    counts = counts[np.all(counts > 0, axis=1)]  # none dropped at these counts
    assert len(counts) == HEADLINE_SEEDS
    rows = het_slopes(np.log(n), np.log(counts))
    half = stats.t.ppf(0.975, df=k - 2) * rows.se
    rate = float(np.mean(np.abs(rows.alpha - alpha) <= half))
    print(f"\n{noise}, {k} sizes, alpha {alpha}: headline coverage {rate:.3f}")
    assert HEADLINE_BAND[0] <= rate <= HEADLINE_BAND[1]


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
