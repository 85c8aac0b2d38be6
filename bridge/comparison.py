"""The Comparison record: one family's counts, fits, intervals, checks and verdict.

`build_comparison` runs every fit of the bridge on one family's sizes and counts (pure: arrays
and a generator in, a frozen record out); the `bridge.compare` CLI reads the theory and
empirics records, calls it, and saves the result.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from bridge.agreement import Prediction, compare_exponent
from bridge.bootstrap import (
    DataLevelCI,
    case_bootstrap,
    parametric_exponent_ci,
    replicate_exponent_ci,
)
from bridge.diagnostics import check_curvature, compare_aicc, predict_largest
from bridge.powerlaw import (
    PowerLawFit,
    fit_power_law,
    fit_power_law_het,
    fit_power_law_quasi_poisson,
)
from bridge.variance import het_slopes
from runstore import Record
from runstore.tables import frame


@dataclass(frozen=True)
class Comparison(Record):
    """Scaling verdict of one family (written by `bridge.compare`).

    `config` holds the whole configuration (family, level, seed, n_resamples, margin, the
    paths or hashes of the input records). `fits` maps "ols-het" (the headline, with its
    counting-noise "dispersion" phi besides the scatter `scale` tau^2) / "ols-log" /
    "quasi-poisson" to the fit fields; `intervals` maps a method to an ExponentCI's fields,
    "ols-het-t" being the headline and the others labelled checks. Records written before the
    headline changed have no "ols-het" entries; their headline was "ols-t" (verdict
    "(95% t, N sizes)"). `residuals` are the log residuals about the headline's (OLS) line.
    `error_bars` holds per-size "low" / "high" count bars when a data-level interval was
    computed (else empty); `diagnostics` holds the curvature test, the AICc table and the
    extrapolation check (each empty when there are too few sizes); `agreement` the comparison
    of the headline with the prediction (empty without one). `verdict` is the one-line
    summary printed by the CLI.
    """

    kind: ClassVar[str] = "comparison"
    version: ClassVar[int] = 1

    family: str
    sizes: np.ndarray
    counts: np.ndarray
    residuals: np.ndarray
    fits: dict
    intervals: dict
    error_bars: dict
    diagnostics: dict
    agreement: dict
    verdict: str

    def to_frame(self):
        """The fitted points as a pandas DataFrame, one row per size: N, R, and the count's
        data-level bars low and high (NaN when no data-level interval was computed)."""
        missing = np.full(len(self.sizes), np.nan)
        return frame({"N": self.sizes, "R": self.counts,
                      "low": self.error_bars.get("low", missing),
                      "high": self.error_bars.get("high", missing)})


def build_comparison(config: dict, family: str, n, count, *, rng: np.random.Generator,
                     level: float = 0.95, n_resamples: int = 10_000,
                     replicates=None, count_se=None, prediction: Prediction | None = None,
                     margin: float = 0.1) -> Comparison:
    """Fit, bound, check and (with a prediction) judge one family's R(N).

    Parameters
    ----------
    config : the whole configuration, stored in the record.
    family : family name.
    n, count : arrays (n_sizes,), model sizes and Rosetta counts.
    rng : generator for the case bootstrap and the parametric data-level resampling.
    replicates : optional array (n_sizes, n_replicates) of input-resampled counts.
    count_se : optional per-size standard errors (used when `replicates` is None).
    prediction, margin : the theory's exponent and the equivalence margin for "agrees".

    Notes
    -----
    The headline is the OLS exponent with the counting + scatter t interval of
    `fit_power_law_het` (docs/coverage.md: coverage 0.938-0.961 at nominal 0.95 under Poisson
    counts and under log-normal scatter, where the constant-variance OLS t and the
    quasi-Poisson intervals each fail under one of them); those two and the case bootstrap
    are stored as labelled checks, the data-level interval as the input-sampling part of the
    uncertainty (see bridge.bootstrap). The prediction is judged against the headline.
    """
    headline, fits, intervals = _fits(n, count, level)
    for method in ("percentile", "bca"):
        ci = case_bootstrap(n, count, rng=rng, level=level, n_resamples=n_resamples,
                            method=method)
        intervals[f"case-{method}"] = dataclasses.asdict(ci)
    data = _data_level(n, count, replicates, count_se, rng, level, n_resamples)
    error_bars = {}
    if data is not None:
        intervals[data.ci.method] = dataclasses.asdict(data.ci) | {
            "bias": data.bias, "dispersion": data.dispersion, "dispersion_p": data.dispersion_p}
        error_bars = {"low": data.count_low, "high": data.count_high, "log_se": data.log_se}
    agreement = {} if prediction is None else dataclasses.asdict(
        compare_exponent(headline, prediction, margin=margin))
    return Comparison(
        config=config, family=family, sizes=np.asarray(n, dtype=np.float64),
        counts=np.asarray(count, dtype=np.float64), residuals=headline.residuals,
        fits=fits, intervals=intervals, error_bars=error_bars,
        diagnostics=_diagnostics(n, count, level), agreement=agreement,
        verdict=_verdict(headline, agreement))


def _fits(n, count, level: float) -> tuple[PowerLawFit, dict, dict]:
    """The headline fit, the `fits` entries and the fitted t intervals (headline first)."""
    headline = fit_power_law_het(n, count, level=level)
    ols = fit_power_law(n, count, level=level)
    glm = fit_power_law_quasi_poisson(n, count, level=level)
    fits = {f.method: _fit_fields(f) for f in (headline, ols, glm)}
    rows = het_slopes(np.log(np.asarray(n, dtype=np.float64)),
                      np.log(np.asarray(count, dtype=np.float64)))
    fits[headline.method]["dispersion"] = float(rows.dispersion)
    intervals = {"ols-het-t": _interval(headline), "ols-t": _interval(ols),
                 "quasi-poisson-t": _interval(glm)}
    return headline, fits, intervals


def _data_level(n, count, replicates, count_se, rng, level, n_resamples) -> DataLevelCI | None:
    if replicates is not None:
        return replicate_exponent_ci(n, count, replicates, level=level)
    if count_se is not None:
        return parametric_exponent_ci(n, count, count_se, rng=rng, level=level,
                                      n_resamples=n_resamples)
    return None


def _fit_fields(fit) -> dict:
    fields = {f.name: getattr(fit, f.name) for f in dataclasses.fields(fit)}
    del fields["residuals"]
    return fields | {"fraction_exponent": fit.fraction_exponent,
                     "sublinear_supported": fit.sublinear_supported}


def _interval(fit) -> dict:
    return {"estimate": fit.alpha, "low": fit.low, "high": fit.high, "level": fit.level,
            "method": f"{fit.method}-t", "n_resamples": 0}


def _diagnostics(n, count, level: float) -> dict:
    if len(n) < 4:
        return {"curvature": {}, "aicc": {}, "extrapolation": {}}
    extrapolation = predict_largest(n, count, level=level)
    return {"curvature": dataclasses.asdict(check_curvature(n, count)),
            "aicc": dataclasses.asdict(compare_aicc(n, count)),
            "extrapolation": dataclasses.asdict(extrapolation) | {
                "inside": extrapolation.inside}}


def _verdict(fit, agreement: dict) -> str:
    text = (f"alpha = {fit.alpha:.3f} [{fit.low:.3f}, {fit.high:.3f}] "
            f"({fit.level:.0%} t, OLS with counting + scatter variance, {fit.n_sizes} sizes); "
            + ("sublinear (alpha < 1) supported" if fit.sublinear_supported
               else "alpha < 1 not supported"))
    if agreement:
        text += (f"; prediction {agreement['alpha_pred']:.3f}: {agreement['verdict']} "
                 f"(margin {agreement['margin']:g})")
    return text


def headline_interval(comparison: Comparison) -> str:
    """The key of the headline interval in `comparison.intervals`: "ols-het-t", or "ols-t"
    for records written before the headline changed (docs/coverage.md)."""
    return "ols-het-t" if "ols-het-t" in comparison.intervals else "ols-t"
