"""Bootstrap intervals for the exponent alpha of R = a N^alpha, seeded and vectorised.

Two kinds of resampling answer two questions:

- `case_bootstrap`: resample the model sizes themselves (pairs (N, R)), percentile or BCa. A
  labelled sensitivity check: with 5-8 sizes it under-covers (0.83-0.91 for the percentile
  interval in docs/coverage.md), so the headline is the counting + scatter t interval of
  `powerlaw.fit_power_law_het`.
- `replicate_exponent_ci` / `parametric_exponent_ci`: the data-level uncertainty. Each size's
  count is itself an estimate from finite inputs; resampling the inputs inside each size (the
  engine's per-chunk statistics, `empirics.records.chunks`) gives replicate counts, or a standard
  error per size. Both propagate that uncertainty into alpha and give per-size error bars.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import special, stats

from bridge.powerlaw import check_level, check_points, fit_power_law
from theory.slopes import log_log_slopes


@dataclass(frozen=True)
class ExponentCI:
    """An interval [low, high] for the exponent alpha at confidence `level`.

    `method` names how it was obtained ("case-percentile", "case-bca", "data-replicates",
    "data-parametric"); `n_resamples` counts the resamples that entered it.
    """

    estimate: float
    low: float
    high: float
    level: float
    method: str
    n_resamples: int


@dataclass(frozen=True)
class DataLevelCI:
    """The exponent interval from per-size count uncertainty, with per-size error bars.

    Attributes
    ----------
    ci : interval for alpha (percentile of the exponents refitted to each resample).
    count_low, count_high : arrays (n_sizes,), the `level` error bar of each size's count.
    log_se : array (n_sizes,), standard error of log R at each size.
    bias : mean resampled alpha minus the estimate (large values: the resampled counts are
        biased, e.g. mutual matches lost to resampling noise).
    dispersion : sum of (OLS log residual / log_se)^2 over n - 2: about 1 when input
        sampling explains the scatter about the power law; much larger when it does not.
    dispersion_p : upper-tail chi-squared p-value of that sum (df = n - 2).
    """

    ci: ExponentCI
    count_low: np.ndarray = field(compare=False, repr=False)
    count_high: np.ndarray = field(compare=False, repr=False)
    log_se: np.ndarray = field(compare=False, repr=False)
    bias: float = 0.0
    dispersion: float = float("nan")
    dispersion_p: float = float("nan")


def case_bootstrap(n, count, *, rng: np.random.Generator, level: float = 0.95,
                   n_resamples: int = 10_000, method: str = "bca") -> ExponentCI:
    """Interval for alpha from resampling the (size, count) pairs with replacement.

    Parameters
    ----------
    n, count : arrays (n_sizes,), as in `powerlaw.fit_power_law`.
    rng : the generator that draws the resamples.
    level : confidence level.
    n_resamples : number of bootstrap resamples.
    method : "bca" (bias-corrected and accelerated) or "percentile".

    Returns
    -------
    ExponentCI whose `n_resamples` counts the resamples with at least two distinct sizes.

    Notes
    -----
    A resample that repeats a single size has no slope; it is dropped (with 5 sizes, about
    0.2% of resamples) rather than redrawn, so the drawn index stream is the same for either
    method. BCa follows scipy.stats.bootstrap (Efron & Tibshirani 14.3, 15.4; z0 from the
    "mean" percentile of the estimate, acceleration from the leave-one-size-out jackknife).
    When the bootstrap exponents all sit on one side of the estimate z0 is infinite and BCa is
    undefined; the percentile interval is returned instead and `method` says so, as
    scikit-hep/resample does, rather than scipy's NaN.
    """
    n, count = check_points(n, count)
    level = check_level(level)
    if method not in ("bca", "percentile"):
        raise ValueError(f"method must be 'bca' or 'percentile', got {method!r}")
    x, y = np.log(n), np.log(count)
    estimate = float(log_log_slopes(x, y))
    index = rng.integers(0, len(x), size=(n_resamples, len(x)))
    slopes = log_log_slopes(x[index], y[index])
    slopes = slopes[np.isfinite(slopes)]
    tail = (1.0 - level) / 2.0
    probabilities, label = (tail, 1.0 - tail), "case-percentile"
    if method == "bca":
        z0 = special.ndtri(_fraction_below(slopes, estimate))
        if np.isfinite(z0):
            probabilities = _bca_probabilities(z0, _acceleration(x, y), tail)
            label = "case-bca"
        else:
            label = "case-percentile (bca undefined)"
    low, high = np.quantile(slopes, probabilities)
    return ExponentCI(estimate, float(low), float(high), level, label, len(slopes))


def _fraction_below(values: np.ndarray, score: float) -> float:
    """Share of values below `score`, ties counting one half (scipy's BCa convention)."""
    return float((np.sum(values < score) + np.sum(values <= score)) / (2 * len(values)))


def _acceleration(x: np.ndarray, y: np.ndarray) -> float:
    """BCa acceleration from the jackknife of the slope, leaving out one size at a time."""
    keep = ~np.eye(len(x), dtype=bool)
    jack = log_log_slopes(x[None, :].repeat(len(x), 0)[keep].reshape(len(x), -1),
                          y[None, :].repeat(len(y), 0)[keep].reshape(len(y), -1))
    u = jack.mean() - jack
    denominator = np.sum(u**2) ** 1.5
    # All leave-one-out slopes equal (an exact power law): no skewness to correct.
    return float(np.sum(u**3) / (6.0 * denominator)) if denominator > 0 else 0.0


def _bca_probabilities(z0: float, acceleration: float, tail: float) -> tuple[float, float]:
    out = []
    for z in (special.ndtri(tail), special.ndtri(1.0 - tail)):
        shifted = z0 + z
        out.append(float(special.ndtr(z0 + shifted / (1.0 - acceleration * shifted))))
    return out[0], out[1]


def replicate_exponent_ci(n, count, replicates, *, level: float = 0.95) -> DataLevelCI:
    """Interval for alpha from replicate counts obtained by resampling inputs inside each size.

    Parameters
    ----------
    n, count : arrays (n_sizes,); `count` is the full-data count of each size.
    replicates : array (n_sizes, n_replicates) of recounted R, one column per resample. If the
        sizes saw the same inputs and column j used the same input resample at every size,
        keep that pairing: it carries the correlation between sizes into alpha.
    level : confidence level, for alpha and for the per-size error bars.

    Returns
    -------
    DataLevelCI; alpha's interval is the percentile interval of the OLS exponents refitted to
    each column, its estimate the OLS exponent of `count`.

    Notes
    -----
    Each column is refitted with the headline's estimator (unweighted OLS in logs), so the
    interval is the spread of that same estimator under input resampling. A fit weighted by
    the within-size variances was not used: it changes the estimator, and it gives the sizes
    whose counts are most stable the most weight even when the scatter between sizes comes from
    model-to-model differences that input resampling cannot see. That case is what
    `dispersion` detects; when it is well above 1, the data-level interval understates the
    uncertainty of alpha and the headline interval of `fit_power_law_het` is the one to quote.
    """
    n, count = check_points(n, count)
    level = check_level(level)
    replicates = _check_replicates(replicates, len(n), level)
    log_replicates = np.log(replicates)
    slopes = log_log_slopes(np.log(n), log_replicates.T)
    tail = (1.0 - level) / 2.0
    count_low, count_high = np.quantile(replicates, [tail, 1.0 - tail], axis=1)
    log_se = np.std(log_replicates, axis=1, ddof=1)
    return _data_level_result(n, count, slopes, level, "data-replicates",
                              count_low, count_high, log_se)


def parametric_exponent_ci(n, count, count_se, *, rng: np.random.Generator,
                           level: float = 0.95, n_resamples: int = 10_000) -> DataLevelCI:
    """Interval for alpha from per-size standard errors of the counts (parametric resampling).

    Parameters
    ----------
    n, count : arrays (n_sizes,).
    count_se : array (n_sizes,), standard error of each count (same units), non-negative.
    rng : the generator that draws the resamples.
    level, n_resamples : confidence level and number of resamples.

    Returns
    -------
    DataLevelCI, as from `replicate_exponent_ci`, with log-normal per-size error bars.

    Notes
    -----
    Counts are drawn log-normally, log R* = log R + (se / R) z with independent standard
    normal z per size: the delta-method standard error of log R is se / R, a log-normal count
    stays positive, and the law is fitted in logs anyway. Independence across sizes is an
    assumption; when replicate counts with a shared input resample exist, use
    `replicate_exponent_ci`, which keeps their correlation.
    """
    n, count = check_points(n, count)
    level = check_level(level)
    count_se = np.asarray(count_se, dtype=np.float64)
    if count_se.shape != count.shape or not np.all(np.isfinite(count_se)) or np.any(count_se < 0):
        raise ValueError(f"count_se must be finite, non-negative and one per size, got {count_se}")
    log_se = count_se / count
    log_counts = np.log(count) + log_se * rng.standard_normal((n_resamples, len(n)))
    slopes = log_log_slopes(np.log(n), log_counts)
    spread = stats.norm.ppf(0.5 + level / 2.0) * log_se
    return _data_level_result(n, count, slopes, level, "data-parametric",
                              count * np.exp(-spread), count * np.exp(spread), log_se)


def _check_replicates(replicates, n_sizes: int, level: float) -> np.ndarray:
    replicates = np.asarray(replicates, dtype=np.float64)
    if replicates.ndim != 2 or replicates.shape[0] != n_sizes:
        raise ValueError(f"replicates must have shape (n_sizes={n_sizes}, n_replicates), "
                         f"got {replicates.shape}")
    # Each tail of the percentile interval needs at least one replicate beyond it.
    needed = int(np.ceil(2.0 / (1.0 - level)))
    if replicates.shape[1] < needed:
        raise ValueError(f"a {level:.0%} percentile interval needs at least {needed} replicates "
                         f"per size, got {replicates.shape[1]}")
    if not np.all(np.isfinite(replicates)) or np.any(replicates <= 0):
        raise ValueError("replicate counts must be finite and positive; a size whose count can "
                         "reach zero under resampling is too small for a log-log fit")
    return replicates


def _data_level_result(n, count, slopes, level, method, count_low, count_high,
                       log_se) -> DataLevelCI:
    fit = fit_power_law(n, count, level=level)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(slopes, [tail, 1.0 - tail])
    chi2 = _weighted_residual_sum(fit.residuals, log_se)
    df = len(n) - 2
    ci = ExponentCI(fit.alpha, float(low), float(high), level, method, len(slopes))
    return DataLevelCI(ci=ci, count_low=np.asarray(count_low), count_high=np.asarray(count_high),
                       log_se=np.asarray(log_se), bias=float(np.mean(slopes) - fit.alpha),
                       dispersion=chi2 / df, dispersion_p=float(stats.chi2.sf(chi2, df)))


def _weighted_residual_sum(residuals: np.ndarray, log_se: np.ndarray) -> float:
    """Sum of squared standardised residuals; infinite when a size has no sampling error
    but does not lie on the fitted law."""
    zero = log_se == 0
    if np.any(zero & (np.abs(residuals) > 1e-12)):
        return float("inf")
    return float(np.sum(residuals[~zero] ** 2 / log_se[~zero] ** 2))
