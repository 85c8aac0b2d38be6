"""Power-law fits R = a N^alpha of Rosetta counts against model size, for 5-8 sizes.

Three fits of the same law, each returning a `PowerLawFit`:

- `fit_power_law_het` (the headline): ordinary least squares of log R on log N, with a
  standard error from a two-part variance of log R, counting noise phi / mu (mu the fitted
  count) plus a multiplicative scatter tau^2, both fitted to the residuals; t interval.
- `fit_power_law`: the same OLS fit with the textbook (constant-variance) t interval.
- `fit_power_law_quasi_poisson`: a quasi-Poisson GLM with log link (a count-aware check).

The closed-form OLS slope over many rows at once, which the bootstrap and the diagnostics use,
is `theory.slopes.log_log_slopes`; `bridge.variance.het_slopes` is the headline's vectorised
core (the two-part variance model and its fit).

Notes
-----
Why that headline: docs/coverage.md (made by benchmarks/coverage_headline.py). Over 5 and 8
sizes, exponents 0.5 and 0.8, Poisson counts of 5-5000, log-normal scatter of 10-20% with and
without counting noise, and means of several Poisson counts, the two-part interval covered a
planted exponent in 0.938-0.961 of 10,000 seeds a cell at nominal 0.95. The constant-variance
t interval fell to 0.881 under Poisson counts (small counts scatter more in logs), the
quasi-Poisson one to 0.839 under log-normal scatter (its variance function is wrong there),
and the case bootstrap percentile interval covered 0.832-0.906.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import statsmodels.api as sm
from scipy import stats
from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

from bridge.variance import het_slopes
from theory.slopes import log_log_slopes

MIN_SIZES = 3


@dataclass(frozen=True)
class PowerLawFit:
    """A fitted power law R = prefactor * N^alpha with a two-sided interval for alpha.

    Attributes
    ----------
    method : "ols-het" (the headline), "ols-log" or "quasi-poisson".
    alpha, se : the exponent and its standard error.
    low, high : the `level` interval for alpha (Student-t quantiles, df = n_sizes - 2).
    prefactor : a in R = a N^alpha (same units as the counts).
    r_squared : 1 - RSS / TSS of log R about the fitted curve (for OLS, the usual R^2).
    scale : residual variance of log R ("ols-log"), the fitted multiplicative scatter tau^2 of
        log R ("ols-het"), or Pearson X2 / df ("quasi-poisson" dispersion).
    residuals : log R - log fitted R, one per size, in the order given.
    """

    method: str
    n_sizes: int
    alpha: float
    se: float
    low: float
    high: float
    level: float
    df: int
    prefactor: float
    r_squared: float
    scale: float
    residuals: np.ndarray = field(compare=False, repr=False)

    @property
    def fraction_exponent(self) -> float:
        """Exponent of the Rosetta fraction R / N: alpha - 1."""
        return self.alpha - 1.0

    @property
    def sublinear_supported(self) -> bool:
        """True when the whole interval lies below 1 (the fraction R / N falls with N)."""
        return self.high < 1.0


def check_points(n, count) -> tuple[np.ndarray, np.ndarray]:
    """Validate sizes and counts; return them as float64 arrays.

    Raises
    ------
    ValueError
        For mismatched lengths, fewer than 3 sizes, non-finite or non-positive values, or a
        size given twice.
    """
    n = np.asarray(n, dtype=np.float64)
    count = np.asarray(count, dtype=np.float64)
    if n.ndim != 1 or count.shape != n.shape:
        raise ValueError(f"sizes and counts must be 1-d of equal length, got shapes "
                         f"{n.shape} and {count.shape}")
    if len(n) < MIN_SIZES:
        raise ValueError(f"a power-law fit needs at least {MIN_SIZES} model sizes, got {len(n)}")
    for name, values in (("sizes", n), ("counts", count)):
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{name} must be finite, got {values.tolist()}")
        if np.any(values <= 0):
            raise ValueError(f"{name} must be positive for a log-log fit, got {values.tolist()}; "
                             "a zero count has no logarithm (use larger models or drop the size)")
    if len(np.unique(n)) != len(n):
        raise ValueError(f"each model size must appear once, got duplicated sizes in {n.tolist()}")
    return n, count


def check_level(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    return float(level)


def fit_power_law(n, count, *, level: float = 0.95) -> PowerLawFit:
    """Fit R = a N^alpha by OLS of log R on log N, with a Student-t interval for alpha.

    Parameters
    ----------
    n : array (n_sizes,), model sizes (parameters or neurons), positive and distinct.
    count : array (n_sizes,), Rosetta counts (or mean counts over seeds), positive.
    level : confidence level of the two-sided interval.

    Returns
    -------
    PowerLawFit with method "ols-log".

    Notes
    -----
    Logs turn multiplicative scatter into additive scatter and make the fit invariant to the
    units of N and R (rescaling either changes only the prefactor). df = n - 2 t quantiles,
    not normal ones: with 5 sizes the 95% quantile is 3.18, not 1.96.
    """
    n, count = check_points(n, count)
    level = check_level(level)
    x, y = np.log(n), np.log(count)
    result = sm.OLS(y, sm.add_constant(x)).fit()
    log_a, alpha = (float(v) for v in result.params)
    se = float(result.bse[1])
    residuals = y - (log_a + alpha * x)
    return _make_fit("ols-log", alpha, se, log_a, residuals, y, level,
                     scale=float(result.scale))


def fit_power_law_het(n, count, *, level: float = 0.95) -> PowerLawFit:
    """Fit R = a N^alpha by OLS of log R on log N; interval from counting noise plus scatter.

    Parameters
    ----------
    n, count, level : as in `fit_power_law`; counts need not be integers (means over seeds).

    Returns
    -------
    PowerLawFit with method "ols-het": the OLS exponent and prefactor of `fit_power_law`, its
    standard error from the variance model of `bridge.variance.het_slopes`, a Student-t
    interval with df = n - 2, and `scale` = the fitted scatter tau^2 (see `het_slopes` for phi).

    Notes
    -----
    The point estimate is the plain OLS one; only the standard error differs. The textbook OLS
    error assumes log R scatters equally at every size, but a count of 20 scatters by about
    1 / sqrt(20) = 22% in logs and one of 2000 by 2%, so with Poisson counts it under-covers
    (0.881 at 8 sizes, docs/coverage.md). Here var(log R_i) = phi / mu_i + tau^2 with mu_i the
    fitted count: the first part is counting noise (phi = 1 for Poisson counts, 1/m for the
    mean of m of them), the second a multiplicative scatter between models. Both are fitted,
    so neither noise model has to be assumed: at its edges the error is that of constant
    scatter in logs (phi = 0) or of Poisson-shaped noise with a free scale (tau^2 = 0).
    Separately phi and tau^2 are rough (3-6 residual df); their sum is what the coverage
    study calibrates.
    """
    n, count = check_points(n, count)
    level = check_level(level)
    x, y = np.log(n), np.log(count)
    rows = het_slopes(x, y)
    alpha, log_a = float(rows.alpha), float(rows.log_prefactor)
    residuals = y - (log_a + alpha * x)
    return _make_fit("ols-het", alpha, float(rows.se), log_a, residuals, y, level,
                     scale=float(rows.scatter))


def fit_power_law_quasi_poisson(n, count, *, level: float = 0.95) -> PowerLawFit:
    """Fit log E[R] = log a + alpha log N by a quasi-Poisson GLM (scale from Pearson X2).

    Parameters
    ----------
    n, count, level : as in `fit_power_law`; counts need not be integers (means over seeds).

    Returns
    -------
    PowerLawFit with method "quasi-poisson"; `scale` is the estimated dispersion.

    Notes
    -----
    The point estimate is the Poisson maximum-likelihood one, fitted with the scale fixed at 1;
    the covariance is then multiplied by Pearson X2 / (n - 2). A plain Poisson interval
    (dispersion 1) under-covers badly once counts vary more than Poisson noise, and a
    negative-binomial shape cannot be estimated from 5-8 points. Estimating the scale inside
    IRLS divides by a zero deviance scale when the law is met exactly, so it is done after.
    The Poisson score equations are homogeneous in the counts, so the fit runs on counts divided
    by their geometric mean and on centred log N, started from the OLS slope: the estimate is
    unchanged, and IRLS's stopping rule (a change in deviance, which grows with the count unit)
    then behaves the same for counts of 10 or of 1e12.
    statsmodels flags an exact fit of small counts with PerfectSeparationWarning (a check meant
    for binary outcomes); here an exact fit is a valid answer, the design has full rank (at
    least 3 distinct sizes) and convergence is checked, so that one warning is ignored.
    """
    n, count = check_points(n, count)
    level = check_level(level)
    x, y = np.log(n), np.log(count)
    unit = float(np.exp(y.mean()))
    design = sm.add_constant(x - x.mean())
    start = np.array([0.0, float(log_log_slopes(x, y))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        result = sm.GLM(count / unit, design, family=sm.families.Poisson()).fit(
            start_params=start, scale=1.0, tol=1e-12)
    if not result.converged:
        raise RuntimeError(f"the quasi-Poisson fit did not converge for counts {count.tolist()}")
    centre, alpha = (float(v) for v in result.params)
    log_a = centre + np.log(unit) - alpha * x.mean()
    dispersion = float(result.pearson_chi2) / (len(n) - 2)
    se = float(np.sqrt(result.cov_params()[1, 1] * dispersion))
    residuals = y - (log_a + alpha * x)
    # X2 / df of the counts in their own units (Pearson X2 scales with the count unit).
    return _make_fit("quasi-poisson", alpha, se, log_a, residuals, y, level,
                     scale=dispersion * unit)


def t_quantile(level: float, df: int) -> float:
    """Two-sided Student-t quantile for a `level` interval."""
    return float(stats.t.ppf(0.5 + level / 2.0, df))


def two_sided_p(estimate: float, se: float, df: int) -> float:
    """Two-sided Student-t p-value of estimate / se; with se = 0, 1 if estimate is 0 else 0."""
    if se == 0:
        return float(estimate == 0)
    return float(2.0 * stats.t.sf(abs(estimate / se), df))


def _make_fit(method, alpha, se, log_a, residuals, log_count, level, *, scale) -> PowerLawFit:
    df = len(log_count) - 2
    half = t_quantile(level, df) * se
    tss = float(np.sum((log_count - log_count.mean()) ** 2))
    rss = float(np.sum(residuals**2))
    # All counts equal: nothing to explain, and a flat exact fit explains it fully.
    r_squared = 1.0 - rss / tss if tss > 0 else 1.0
    return PowerLawFit(method=method, n_sizes=len(log_count), alpha=alpha, se=se,
                       low=alpha - half, high=alpha + half, level=level, df=df,
                       prefactor=float(np.exp(log_a)), r_squared=r_squared, scale=scale,
                       residuals=np.asarray(residuals, dtype=np.float64))
