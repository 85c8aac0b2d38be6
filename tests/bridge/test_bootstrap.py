"""Bootstrap intervals: seeded determinism, scipy cross-check, data-level propagation."""

import numpy as np
import pytest
from scipy import stats

from bridge.bootstrap import case_bootstrap, parametric_exponent_ci, replicate_exponent_ci
from bridge.powerlaw import fit_power_law
from theory.slopes import log_log_slopes


def planted(k=6, alpha=0.6, sigma=0.1, seed=0):
    n = np.geomspace(1e7, 1e10, k)
    rng = np.random.default_rng(seed)
    return n, 5.0 * n**alpha * np.exp(sigma * rng.standard_normal(k))


@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_same_seed_same_interval_other_seed_other_interval(method):
    n, count = planted()
    first = case_bootstrap(n, count, rng=np.random.default_rng(7), method=method)
    again = case_bootstrap(n, count, rng=np.random.default_rng(7), method=method)
    other = case_bootstrap(n, count, rng=np.random.default_rng(8), method=method)
    assert first == again
    assert (first.low, first.high) != (other.low, other.high)
    assert first.low < first.estimate < first.high


@pytest.mark.parametrize("k", [7, 8])
@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_case_bootstrap_equals_scipy_bootstrap_on_the_same_resamples(k, method):
    """scipy.stats.bootstrap(paired=True) draws its resample indices as one
    rng.integers(0, k, (n_resamples, k)) call, like case_bootstrap, so with the same seed
    both see the same resamples and the intervals must agree to rounding. With 7-8 sizes no
    resample repeats a single size at these seeds (checked below), which scipy could not
    handle (it returns NaN)."""
    n, count = planted(k=k, seed=k)
    x, y = np.log(n), np.log(count)
    mine = case_bootstrap(n, count, rng=np.random.default_rng(3), method=method,
                          n_resamples=9999, level=0.9)
    ref = stats.bootstrap((x, y), lambda a, b, axis=-1: log_log_slopes(a, b), paired=True,
                          vectorized=True, method=method, n_resamples=9999,
                          confidence_level=0.9, rng=np.random.default_rng(3))
    assert mine.n_resamples == 9999
    assert mine.method == f"case-{method}"
    assert mine.low == pytest.approx(ref.confidence_interval.low, rel=1e-10)
    assert mine.high == pytest.approx(ref.confidence_interval.high, rel=1e-10)


def test_bca_differs_from_percentile_on_skewed_data():
    n, count = planted(k=6, seed=2)
    count[-1] *= 3.0  # one outlying size skews the bootstrap distribution
    bca = case_bootstrap(n, count, rng=np.random.default_rng(1), method="bca")
    pct = case_bootstrap(n, count, rng=np.random.default_rng(1), method="percentile")
    assert abs(bca.low - pct.low) + abs(bca.high - pct.high) > 1e-3


def test_case_bootstrap_drops_single_size_resamples():
    n, count = planted(k=3)
    ci = case_bootstrap(n, count, rng=np.random.default_rng(0), n_resamples=3000)
    # P(all three draws equal) = 3 / 27; about 333 of 3000 resamples have no slope.
    assert 2500 < ci.n_resamples < 2800
    assert np.isfinite([ci.low, ci.high]).all()


def test_noiseless_law_gives_a_zero_width_case_interval():
    n = np.geomspace(1e6, 1e9, 5)
    ci = case_bootstrap(n, 2.0 * n**0.75, rng=np.random.default_rng(0))
    assert ci.low == pytest.approx(0.75, abs=1e-9) and ci.high == pytest.approx(0.75, abs=1e-9)


def test_bad_method_raises():
    with pytest.raises(ValueError, match="method"):
        case_bootstrap(*planted(), rng=np.random.default_rng(0), method="basic")


def replicate_counts(count, sigma, n_replicates, rng, shared=0.0):
    """Log-normal replicates: independent noise per size plus an optional shift shared by all
    sizes in a column (a common input resample)."""
    own = sigma * rng.standard_normal((len(count), n_replicates))
    common = shared * rng.standard_normal((1, n_replicates))
    return count[:, None] * np.exp(own + common)


def test_replicates_and_parametric_se_give_the_same_interval(rng):
    n, count = planted(k=6, sigma=0.02)
    sigma = np.linspace(0.02, 0.1, 6)
    reps = count[:, None] * np.exp(sigma[:, None] * rng.standard_normal((6, 4000)))
    from_reps = replicate_exponent_ci(n, count, reps)
    from_se = parametric_exponent_ci(n, count, sigma * count, rng=rng)
    assert from_reps.ci.estimate == from_se.ci.estimate == fit_power_law(n, count).alpha
    assert from_reps.ci.low == pytest.approx(from_se.ci.low, abs=0.003)
    assert from_reps.ci.high == pytest.approx(from_se.ci.high, abs=0.003)
    np.testing.assert_allclose(from_reps.log_se, sigma, rtol=0.05)
    np.testing.assert_allclose(from_reps.count_high / count, np.exp(1.96 * sigma), rtol=0.02)
    # The interval's half-width is the slope's standard error under that noise, times 1.96.
    x = np.log(n) - np.log(n).mean()
    se = np.sqrt(np.sum(x**2 * sigma**2)) / np.sum(x**2)
    assert (from_se.ci.high - from_se.ci.low) / 2 == pytest.approx(1.96 * se, rel=0.05)


def test_replicate_columns_keep_the_shared_input_resample(rng):
    """A shift shared by every size in a column moves log R equally and leaves alpha alone;
    pairing the columns must keep it out of the interval."""
    n, count = planted(k=6)
    reps = replicate_counts(count, 0.0, 400, rng, shared=0.3)
    result = replicate_exponent_ci(n, count, reps)
    assert result.ci.high - result.ci.low < 1e-9
    assert np.all(result.count_high > count * 1.5)  # yet each size's own bar is wide


def test_dispersion_is_about_one_when_input_noise_explains_the_scatter():
    dispersions = []
    for seed in range(300):
        rng = np.random.default_rng(seed)
        n, count = planted(k=7, sigma=0.05, seed=seed)
        result = parametric_exponent_ci(n, count, 0.05 * count, rng=rng, n_resamples=200)
        dispersions.append(result.dispersion)
    assert np.mean(dispersions) == pytest.approx(1.0, abs=0.12)
    n, count = planted(k=7, sigma=0.3, seed=1)
    assert parametric_exponent_ci(n, count, 0.05 * count, rng=rng).dispersion_p < 0.01


@pytest.mark.parametrize(("reps", "message"), [
    (np.ones((5, 100)), r"shape \(n_sizes=6"),
    (np.ones((6, 30)), "at least 40 replicates"),
    (np.zeros((6, 100)), "finite and positive"),
])
def test_bad_replicates_raise(reps, message):
    n, count = planted()
    with pytest.raises(ValueError, match=message):
        replicate_exponent_ci(n, count, reps)


def test_bad_standard_errors_raise():
    n, count = planted()
    with pytest.raises(ValueError, match="count_se"):
        parametric_exponent_ci(n, count, -np.ones(6), rng=np.random.default_rng(0))
