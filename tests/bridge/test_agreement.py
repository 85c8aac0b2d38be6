"""Fitted against predicted exponents: delta method, difference and equivalence tests, trends."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from bridge.agreement import Prediction, compare_exponent, fit_trend, predict_with_delta_method
from bridge.powerlaw import PowerLawFit, fit_power_law


def fit_with(alpha, se, df=5):
    half = stats.t.ppf(0.975, df) * se
    return PowerLawFit("ols-log", df + 2, alpha, se, alpha - half, alpha + half, 0.95, df,
                       1.0, 0.99, se**2, np.zeros(df + 2))


@given(beta=st.floats(1.05, 5.0), se_beta=st.floats(0.0, 0.5))
def test_delta_method_for_one_over_beta(beta, se_beta):
    pred = predict_with_delta_method(lambda b: 1.0 / b, beta, se_beta)
    assert pred.alpha == pytest.approx(1.0 / beta, rel=1e-14)
    assert pred.se == pytest.approx(se_beta / beta**2, rel=1e-7, abs=1e-15)


def test_delta_method_through_the_theory_exponent_map():
    from theory.symbolic import exponent
    pred = predict_with_delta_method(lambda b: exponent("P1", b), 1.6, 0.1)
    assert pred.alpha == pytest.approx(1 / 1.6)
    assert pred.se == pytest.approx(0.1 / 1.6**2, rel=1e-7)


def test_delta_method_matches_simulation_for_small_se(rng):
    betas = 1.8 + 0.02 * rng.standard_normal(200_000)
    pred = predict_with_delta_method(lambda b: 1.0 / b, 1.8, 0.02)
    assert pred.se == pytest.approx(np.std(1.0 / betas), rel=0.01)


@pytest.mark.parametrize(("alpha", "se", "pred", "verdict"), [
    (0.60, 0.010, Prediction(0.60), "agrees"),
    (0.60, 0.010, Prediction(0.95), "disagrees"),
    (0.60, 0.200, Prediction(0.62), "inconclusive"),
    (0.60, 0.005, Prediction(0.64), "agrees within margin, difference detected"),
    (0.60, 0.010, Prediction(0.60, se=0.3), "inconclusive"),
])
def test_verdicts(alpha, se, pred, verdict):
    assert compare_exponent(fit_with(alpha, se), pred, margin=0.1).verdict == verdict


def test_prediction_uncertainty_enters_the_standard_error():
    result = compare_exponent(fit_with(0.6, 0.03), Prediction(0.5, se=0.04), margin=0.1)
    assert result.se == pytest.approx(0.05)
    assert result.z == pytest.approx(2.0)
    assert result.p_value == pytest.approx(2 * stats.t.sf(2.0, 5))


@given(alpha=st.floats(0.0, 1.5), se=st.floats(1e-3, 0.3), pred=st.floats(0.0, 1.5),
       margin=st.floats(0.01, 0.5), df=st.integers(1, 8))
def test_tost_equals_the_ninety_percent_interval_inside_the_margin(alpha, se, pred, margin, df):
    result = compare_exponent(fit_with(alpha, se, df), Prediction(pred), margin=margin)
    half = stats.t.ppf(0.95, df) * se
    inside = (-margin < alpha - pred - half) and (alpha - pred + half < margin)
    # Skip values within rounding of the decision boundary.
    if abs(abs(alpha - pred) + half - margin) > 1e-9:
        assert (result.tost_p < 0.05) == inside


def test_equivalence_needs_a_positive_margin():
    with pytest.raises(ValueError, match="margin"):
        compare_exponent(fit_with(0.6, 0.01), Prediction(0.6), margin=0.0)


def test_trend_recovers_a_planted_slope_and_its_interval(rng):
    n = np.geomspace(1e7, 1e10, 7)
    covered = 0
    for _ in range(400):
        value = 2.0 + 0.3 * np.log(n) + 0.2 * rng.standard_normal(7)
        trend = fit_trend(n, value)
        covered += trend.low <= 0.3 <= trend.high
    assert covered / 400 == pytest.approx(0.95, abs=0.035)
    exact = fit_trend(n, 2.0 + 0.3 * np.log(n))
    assert exact.slope == pytest.approx(0.3) and exact.high - exact.low < 1e-9


def test_trend_of_a_flat_series_is_not_significant():
    n = np.geomspace(1e7, 1e10, 6)
    trend = fit_trend(n, np.array([1.0, 1.1, 0.9, 1.05, 0.95, 1.0]))
    assert trend.low < 0 < trend.high and trend.p_value > 0.5


def test_trend_rejects_bad_values():
    with pytest.raises(ValueError, match="one per size"):
        fit_trend(np.geomspace(1e7, 1e10, 4), [1.0, np.nan, 2.0, 3.0])


def test_compare_accepts_a_real_fit():
    n = np.geomspace(1e7, 1e10, 8)
    prediction = predict_with_delta_method(lambda b: 1 / b, 1.6)
    exact = fit_power_law(n, 4.0 * n**0.62)
    # A residual pattern even about the middle size is orthogonal to log N: the fitted
    # exponent stays 0.625 while the scatter gives it a standard error.
    scatter = 0.05 * np.array([1, -1, -1, 1, 1, -1, -1, 1])
    noisy = fit_power_law(n, 4.0 * n**0.625 * np.exp(scatter))
    assert noisy.alpha == pytest.approx(0.625) and noisy.se > 0.005
    # Without scatter even 0.005 is a detectable difference.
    assert compare_exponent(exact, prediction, margin=0.05).verdict == (
        "agrees within margin, difference detected")
    assert compare_exponent(noisy, prediction, margin=0.05).verdict == "agrees"
    assert compare_exponent(noisy, prediction, margin=0.01).verdict == "inconclusive"
