"""Does a fitted exponent agree with the theory's prediction? And how does polarization trend?

- `predict_with_delta_method`: the predicted exponent g(beta) and its standard error when beta
  is itself estimated (se_pred = |g'(beta)| se_beta; for g = 1/beta, se_beta / beta^2).
- `compare_exponent`: the difference test and an equivalence test (TOST) against a stated
  margin. "agrees" is reserved for a passed equivalence test; not rejecting a difference with
  5-8 sizes is weak evidence and reads "inconclusive".
- `fit_trend`: slope of a per-size summary (e.g. mean selectivity of Rosetta or of other
  neurons) against log N, with a t interval.

The exponent map g comes from theory (e.g. `theory.symbolic.exponent`), passed in by the
caller, so no formula of the theory is re-derived here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import statsmodels.api as sm
from scipy import stats

from bridge.powerlaw import PowerLawFit, check_level, check_points, t_quantile, two_sided_p


@dataclass(frozen=True)
class Prediction:
    """A predicted exponent and its standard error (0 for an exact prediction)."""

    alpha: float
    se: float = 0.0


@dataclass(frozen=True)
class Agreement:
    """Fitted against predicted exponent.

    Attributes
    ----------
    difference, se : alpha_hat - alpha_pred and sqrt(se_hat^2 + se_pred^2).
    z : difference / se; p_value its two-sided p-value (t, df of the fit).
    margin : the equivalence margin; tost_p the larger of the two one-sided p-values.
    verdict : "agrees" (equivalent within the margin, no difference detected),
        "agrees within margin, difference detected", "disagrees" (difference detected, not
        equivalent) or "inconclusive" (neither).
    """

    alpha_hat: float
    alpha_pred: float
    difference: float
    se: float
    z: float
    p_value: float
    margin: float
    tost_p: float
    df: int
    test_level: float
    verdict: str


@dataclass(frozen=True)
class Trend:
    """Slope of a per-size value against log N, its standard error, t interval and p-value."""

    slope: float
    se: float
    low: float
    high: float
    level: float
    p_value: float
    df: int


def predict_with_delta_method(exponent_map: Callable[[float], float], beta: float,
                              se_beta: float = 0.0, *, step: float = 1e-5) -> Prediction:
    """Predicted exponent g(beta) with the delta-method standard error |g'(beta)| se_beta.

    Parameters
    ----------
    exponent_map : g, the theory's exponent as a function of beta (a smooth scalar map).
    beta, se_beta : the estimate of beta and its standard error (0: beta known exactly).
    step : relative step of the central difference for g'.

    Notes
    -----
    g' by a central difference, h = step * max(1, |beta|): the truncation error is O(h^2)
    (times g's third derivative) and the rounding error O(eps / h), both about 1e-10 relative
    at h = 1e-5. For g = 1/beta the result is se_beta / beta^2. First order only: fine while
    se_beta is small against the scale on which g bends.
    """
    if not (np.isfinite(se_beta) and se_beta >= 0):
        raise ValueError(f"se_beta must be finite and non-negative, got {se_beta}")
    value = float(exponent_map(beta))
    if se_beta == 0:
        return Prediction(value, 0.0)
    h = step * max(1.0, abs(beta))
    slope = (exponent_map(beta + h) - exponent_map(beta - h)) / (2.0 * h)
    return Prediction(value, float(abs(slope) * se_beta))


def compare_exponent(fit: PowerLawFit, prediction: Prediction, *, margin: float,
                     test_level: float = 0.05) -> Agreement:
    """Test a fitted exponent against a prediction: difference test and TOST equivalence.

    Parameters
    ----------
    fit : the fitted power law (its alpha, se and df are used).
    prediction : predicted exponent and its standard error.
    margin : equivalence margin Delta > 0, fixed before looking at the data: "agrees" means
        |alpha - alpha_pred| < Delta is supported.
    test_level : size of each test (TOST at this level equals the 1 - 2 test_level interval
        of the difference lying inside (-Delta, Delta)).

    Notes
    -----
    z = (alpha_hat - alpha_pred) / sqrt(se_hat^2 + se_pred^2), the two estimates being
    independent (theory and measurement share no data). Its reference distribution is Student
    t with the fit's df, not the normal: exact when the prediction is exact, conservative when
    se_pred comes from a larger sample.
    """
    if not (np.isfinite(margin) and margin > 0):
        raise ValueError(f"the equivalence margin must be positive, got {margin}")
    if not 0 < test_level < 0.5:
        raise ValueError(f"test_level must lie in (0, 0.5), got {test_level}")
    difference = fit.alpha - prediction.alpha
    se = float(np.hypot(fit.se, prediction.se))
    z, p_value, tost_p = _difference_tests(difference, se, margin, fit.df)
    equivalent, different = tost_p < test_level, p_value < test_level
    verdict = ("agrees within margin, difference detected" if equivalent and different
               else "agrees" if equivalent else "disagrees" if different else "inconclusive")
    return Agreement(alpha_hat=fit.alpha, alpha_pred=prediction.alpha, difference=difference,
                     se=se, z=z, p_value=p_value, margin=margin, tost_p=tost_p, df=fit.df,
                     test_level=test_level, verdict=verdict)


def _difference_tests(difference: float, se: float, margin: float,
                      df: int) -> tuple[float, float, float]:
    """(z, two-sided p, TOST p) of a difference with standard error `se`."""
    if se == 0:
        # No uncertainty at all: each test is decided by the value itself.
        z = 0.0 if difference == 0 else float(np.copysign(np.inf, difference))
        return z, float(difference == 0), float(abs(difference) >= margin)
    z = difference / se
    p_lower = stats.t.sf((difference + margin) / se, df)  # H0: difference <= -margin
    p_upper = stats.t.cdf((difference - margin) / se, df)  # H0: difference >= +margin
    return float(z), two_sided_p(difference, se, df), float(max(p_lower, p_upper))


def fit_trend(n, value, *, level: float = 0.95) -> Trend:
    """OLS slope of `value` against log N, with a Student-t interval (df = n - 2).

    Parameters
    ----------
    n : array (n_sizes,), model sizes, positive and distinct.
    value : array (n_sizes,), a per-size summary such as mean selectivity (any sign).

    Notes
    -----
    Log N because sizes span decades and the polarization claim is about growth per
    multiplicative step in size. A positive slope whose interval excludes 0 supports
    "selectivity rises with size"; compare the Rosetta and non-Rosetta trends by their
    intervals, not by their p-values.
    """
    value = np.asarray(value, dtype=np.float64)
    if value.shape != np.shape(n) or not np.all(np.isfinite(value)):
        raise ValueError(f"values must be finite and one per size, got {value.tolist()}")
    n, _ = check_points(n, np.ones_like(value))
    level = check_level(level)
    result = sm.OLS(value, sm.add_constant(np.log(n))).fit()
    slope, se, df = float(result.params[1]), float(result.bse[1]), len(n) - 2
    half = t_quantile(level, df) * se
    return Trend(slope, se, slope - half, slope + half, level, two_sided_p(slope, se, df), df)
