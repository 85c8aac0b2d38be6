"""Power-law fits: planted laws recovered, unit invariance, agreement with scipy, bad input."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from bridge.powerlaw import fit_power_law, fit_power_law_quasi_poisson

FITTERS = [fit_power_law, fit_power_law_quasi_poisson]
alphas = st.floats(0.05, 1.5)
log_prefactors = st.floats(-5.0, 5.0)
n_sizes = st.integers(3, 8)
log_scales = st.floats(-7.0, 7.0)  # rescaling factors between about 1e-3 and 1e3


def sizes(k: int, decades: float = 3.0) -> np.ndarray:
    return np.geomspace(1e7, 1e7 * 10**decades, k)


def noisy_counts(n, alpha, seed, sigma=0.1, log_a=1.0):
    rng = np.random.default_rng(seed)
    return np.exp(log_a + alpha * np.log(n) + sigma * rng.standard_normal(len(n)))


@pytest.mark.parametrize("fitter", FITTERS)
@given(alpha=alphas, log_a=log_prefactors, k=n_sizes, decades=st.floats(1.0, 4.0))
def test_noiseless_power_law_is_recovered_exactly(fitter, alpha, log_a, k, decades):
    n = sizes(k, decades)
    fit = fitter(n, np.exp(log_a) * n**alpha)
    assert fit.alpha == pytest.approx(alpha, abs=1e-9)
    assert np.log(fit.prefactor) == pytest.approx(log_a, abs=1e-6)
    assert fit.r_squared == pytest.approx(1.0, abs=1e-12)
    assert fit.high - fit.low < 1e-6
    assert np.max(np.abs(fit.residuals)) < 1e-9


@pytest.mark.parametrize("fitter", FITTERS)
@given(alpha=alphas, k=st.integers(4, 8), seed=st.integers(0, 2**32 - 1),
       log_c_n=log_scales, log_c_r=log_scales)
def test_rescaling_sizes_or_counts_leaves_the_exponent_unchanged(fitter, alpha, k, seed,
                                                                 log_c_n, log_c_r):
    n = sizes(k)
    count = noisy_counts(n, alpha, seed) * 1e3
    base = fitter(n, count)
    scaled = fitter(n * np.exp(log_c_n), count * np.exp(log_c_r))
    assert scaled.alpha == pytest.approx(base.alpha, abs=1e-8)
    assert scaled.se == pytest.approx(base.se, rel=1e-6)
    assert (scaled.low, scaled.high) == pytest.approx((base.low, base.high), abs=1e-8)
    # Only the prefactor moves: a' = a c_r / c_n^alpha.
    expected = np.log(base.prefactor) + log_c_r - base.alpha * log_c_n
    assert np.log(scaled.prefactor) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("fitter", FITTERS)
def test_order_of_the_sizes_does_not_matter(fitter, rng):
    n = sizes(7)
    count = noisy_counts(n, 0.7, 3) * 100
    order = rng.permutation(len(n))
    base, shuffled = fitter(n, count), fitter(n[order], count[order])
    assert shuffled.alpha == pytest.approx(base.alpha, abs=1e-10)
    assert shuffled.se == pytest.approx(base.se, rel=1e-8)
    np.testing.assert_allclose(shuffled.residuals, base.residuals[order], atol=1e-10)


def test_ols_fit_matches_scipy_linregress_and_t_interval():
    n = sizes(6)
    count = noisy_counts(n, 0.6, 11)
    fit = fit_power_law(n, count, level=0.9)
    ref = stats.linregress(np.log(n), np.log(count))
    assert fit.alpha == pytest.approx(ref.slope, rel=1e-12)
    assert fit.se == pytest.approx(ref.stderr, rel=1e-10)
    assert fit.r_squared == pytest.approx(ref.rvalue**2, rel=1e-12)
    half = stats.t.ppf(0.95, df=4) * ref.stderr
    assert (fit.low, fit.high) == pytest.approx((ref.slope - half, ref.slope + half), rel=1e-10)
    assert fit.df == 4 and fit.fraction_exponent == pytest.approx(ref.slope - 1)


def test_quasi_poisson_dispersion_tracks_overdispersion(rng):
    n = sizes(8)
    mean = 2.0 * n**0.5
    poisson = fit_power_law_quasi_poisson(n, rng.poisson(mean).astype(float))
    spread = fit_power_law_quasi_poisson(n, mean * np.exp(0.2 * rng.standard_normal(8)))
    # Poisson counts give dispersion near 1; 20% log-scatter on counts of 1e4-1e6 far more.
    assert 0.05 < poisson.scale < 5.0
    assert spread.scale > 100.0 * poisson.scale


def test_wider_level_gives_wider_interval_and_sublinear_flag():
    n = sizes(6)
    count = noisy_counts(n, 0.6, 5, sigma=0.05)
    narrow, wide = fit_power_law(n, count, level=0.8), fit_power_law(n, count, level=0.99)
    assert wide.low < narrow.low < narrow.alpha < narrow.high < wide.high
    assert narrow.sublinear_supported
    assert not fit_power_law(n, noisy_counts(n, 1.0, 5, sigma=0.05)).sublinear_supported


@pytest.mark.parametrize("fitter", FITTERS)
@pytest.mark.parametrize(("n", "count", "message"), [
    ([1e6, 1e7], [10.0, 20.0], "at least 3 model sizes"),
    ([1e6, 1e7, 1e8], [10.0, 20.0], "equal length"),
    ([1e6, 1e7, 1e7], [10.0, 20.0, 30.0], "duplicated sizes"),
    ([1e6, 1e7, 1e8], [10.0, 0.0, 30.0], "counts must be positive"),
    ([1e6, -1e7, 1e8], [10.0, 20.0, 30.0], "sizes must be positive"),
    ([1e6, 1e7, 1e8], [10.0, np.nan, 30.0], "counts must be finite"),
    ([1e6, np.inf, 1e8], [10.0, 20.0, 30.0], "sizes must be finite"),
])
def test_bad_input_raises_a_clear_error(fitter, n, count, message):
    with pytest.raises(ValueError, match=message):
        fitter(n, count)


@pytest.mark.parametrize("level", [0.0, 1.0, 1.5])
def test_bad_level_raises(level):
    with pytest.raises(ValueError, match="level"):
        fit_power_law(sizes(4), sizes(4) ** 0.5, level=level)
