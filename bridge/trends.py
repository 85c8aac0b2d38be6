"""Polarization trends: does selectivity rise with size for Rosetta neurons, and not for others?

The paper's claim is a positive slope of mean Rosetta selectivity against log N and a slope
<= 0 for a size-matched non-Rosetta control. `selectivity_points` gathers the per-size means
(with their intervals) from SelectivityRecords (`python -m empirics.analyze`), `toy_points`
from a ToySweep (the toy's selectivity is its neurons' isolation), and `polarization` fits
each population's trend with `bridge.agreement.fit_trend` (OLS on log N, t interval).

The verdict is a test of the difference of the two slopes (Rosetta minus control), never a
difference of significance (one interval above 0, the other not): `slope_difference` fits it
with its own t interval, and `holm` corrects the p-values for the number of readings (every
metric of one Polarization). "supported" means: the difference is positive and its
Holm-adjusted p-value is below 1 - level. docs/selectivity.md ("Polarization trends")
states the rule.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar, Sequence

import numpy as np
from scipy import stats

from bridge.agreement import fit_trend
from bridge.points import group_by_size
from bridge.powerlaw import t_quantile, two_sided_p
from empirics.records.analysis import SelectivityRecord
from empirics.records.pair import check_size
from empirics.records.toy import ToySweep
from runstore import Record

POPULATIONS = ("rosetta", "control")
#: The correction for the number of readings of one Polarization, as records state it.
CORRECTION = "holm over every metric of the record"


@dataclasses.dataclass(frozen=True)
class Polarization(Record):
    """Per-size selectivity of Rosetta and control neurons and their trends against log N.

    `sizes` (S,); `points` maps "<metric>/<population>" to (S, 3) [mean, low, high];
    `trends[metric][population]` holds a `Trend`'s fields; `differences[metric]` the test of
    the Rosetta slope minus the control's (`slope_difference`, with its Holm-adjusted
    p-value "p_holm" over the metrics, `correction` naming the rule); `verdicts[metric]` a
    one-line reading of the claim; `source` is "selectivity" (model records) or
    "toy-isolation"; `size` the unit of N ("neurons" or "params"; None in records made before
    it was kept, whose unit is unknown). Records made before the difference test have no
    `differences` and their verdicts read the two intervals separately.
    """

    kind: ClassVar[str] = "polarization"
    version: ClassVar[int] = 1

    family: str
    source: str
    sizes: np.ndarray
    points: dict
    trends: dict
    verdicts: dict
    differences: dict = dataclasses.field(default_factory=dict)
    correction: str | None = None
    size: str | None = None


def selectivity_points(records: Sequence[SelectivityRecord], size: str = "neurons"
                       ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Sizes (geometric mean of the pair's neurons or parameters) and, per metric and
    population, the mean / low / high of the records at each size (averaged over records
    of one size, e.g. seed pairs), from the records' pooled summaries."""
    groups = group_by_size(records, size)
    sizes = np.array(list(groups))
    metrics = sorted({m for r in records for m in r.summary})
    points = {}
    for metric, population in ((m, p) for m in metrics for p in POPULATIONS):
        points[f"{metric}/{population}"] = np.array([
            np.mean([r.summary[metric][population] if metric in r.summary
                     else [np.nan] * 3 for r in groups[n]], axis=0) for n in sizes])
    return sizes, points


def toy_points(sweep: ToySweep, level: float = 0.95) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Widths and the mean isolation of Rosetta and non-Rosetta neurons over seed pairs, with
    a t interval over pairs (pairs that share a seed are not independent: optimistic)."""
    points = {}
    for population, name in zip(POPULATIONS, ("isolation_rosetta", "isolation_nonrosetta")):
        values = sweep.per_pair[name]
        rows = []
        for column in values.T:
            finite = column[np.isfinite(column)]
            mean = finite.mean() if len(finite) else np.nan
            half = (stats.t.ppf(0.5 + level / 2, len(finite) - 1) * finite.std(ddof=1)
                    / np.sqrt(len(finite))) if len(finite) > 1 else np.nan
            rows.append([mean, mean - half, mean + half])
        points[f"isolation/{population}"] = np.array(rows)
    return np.asarray(sweep.widths, dtype=np.float64), points


def polarization(config: dict, family: str, source: str, sizes: np.ndarray,
                 points: dict[str, np.ndarray], *, level: float = 0.95,
                 size: str = "neurons") -> Polarization:
    """Fit every metric's Rosetta and control trends (sizes with a finite mean only; a trend
    needs three), test the difference of the two slopes, Holm-correct its p-values over the
    metrics and read the claim off the corrected difference. `size` is the unit of `sizes`
    (kept in the record and its config, so records on the two axes never pass for one)."""
    trends, differences = {}, {}
    for metric in sorted({key.split("/")[0] for key in points}):
        trends[metric] = {}
        means = {population: points.get(f"{metric}/{population}",
                                        np.full((len(sizes), 3), np.nan))[:, 0]
                 for population in POPULATIONS}
        for population, values in means.items():
            keep = np.isfinite(values)
            if keep.sum() >= 3:
                trend = fit_trend(sizes[keep], values[keep], level=level)
                trends[metric][population] = dataclasses.asdict(trend) | {
                    "n_sizes": int(keep.sum())}
        if set(POPULATIONS) <= set(trends[metric]):
            differences[metric] = slope_difference(sizes, means["rosetta"], means["control"],
                                                   trends[metric], level=level)
    adjusted = holm([d["p_value"] for d in differences.values()])
    for d, p in zip(differences.values(), adjusted):
        d["p_holm"] = p
    verdicts = {metric: read_claim(trends[metric], differences.get(metric), level=level)
                for metric in trends}
    return Polarization(config=config | {"size": check_size(size)}, family=family,
                        source=source, sizes=sizes, points=points, trends=trends,
                        verdicts=verdicts, differences=differences, correction=CORRECTION,
                        size=size)


def slope_difference(sizes: np.ndarray, rosetta: np.ndarray, control: np.ndarray,
                     trends: dict, *, level: float = 0.95) -> dict:
    """The Rosetta slope minus the control slope against log N, its standard error, t
    interval and two-sided p-value.

    Parameters
    ----------
    sizes : (S,) sizes N; rosetta, control : (S,) the populations' means (NaN: no value).
    trends : the two populations' `fit_trend` fields (used when they share < 3 sizes).

    Notes
    -----
    Both means come from the same pairs at each size, so their errors are correlated. Where
    both are finite at three sizes or more the difference is fitted as one series (OLS of
    rosetta - control on log N over those sizes, df = S - 2): its slope is the difference of
    the slopes and its residuals carry the covariance ("paired by size"). Else the two slopes
    are taken as independent: se^2 = se_r^2 + se_c^2 with Welch-Satterthwaite df.
    """
    both = np.isfinite(rosetta) & np.isfinite(control)
    if both.sum() >= 3:
        trend = fit_trend(sizes[both], rosetta[both] - control[both], level=level)
        return {"difference": trend.slope, "se": trend.se, "low": trend.low,
                "high": trend.high, "df": float(trend.df), "p_value": trend.p_value,
                "level": level, "pairing": "paired by size", "n_sizes": int(both.sum())}
    r, c = trends["rosetta"], trends["control"]
    difference, se = r["slope"] - c["slope"], math.hypot(r["se"], c["se"])
    df = se**4 / (r["se"]**4 / r["df"] + c["se"]**4 / c["df"]) if se > 0 else float(
        min(r["df"], c["df"]))
    half = t_quantile(level, df) * se
    return {"difference": difference, "se": se, "low": difference - half,
            "high": difference + half, "df": float(df),
            "p_value": two_sided_p(difference, se, df), "level": level,
            "pairing": "independent", "n_sizes": int(min(r["n_sizes"], c["n_sizes"]))}


def holm(p_values) -> list[float]:
    """Holm's step-down adjustment of `p_values` (family-wise error over all of them): the
    k-th smallest p times (m - k + 1), made monotone, capped at 1."""
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p)
    scaled = np.minimum(1.0, np.maximum.accumulate(p[order] * (len(p) - np.arange(len(p)))))
    adjusted = np.empty_like(p)
    adjusted[order] = scaled
    return adjusted.tolist()


def read_claim(trends: dict, difference: dict | None = None, *, level: float = 0.95) -> str:
    """The claim read off the trends: each half described by its interval, and "supported"
    only when the slope difference (Rosetta minus control) is positive with a Holm-adjusted
    p-value below 1 - level. Without a `difference` (records made before the test) the
    halves alone can only say "not tested as a difference"."""
    if set(POPULATIONS) - set(trends):
        return "too few sizes for a trend"
    rosetta, control = trends["rosetta"], trends["control"]
    rises = ("Rosetta rises" if rosetta["low"] > 0 else "Rosetta falls" if rosetta["high"] < 0
             else "Rosetta trend not resolved")
    flat = ("control rises" if control["low"] > 0 else "control falls"
            if control["high"] < 0 else "control flat within its interval")
    if difference is None:
        return f"{rises}, {flat}: claim not tested as a difference"
    holds = difference["difference"] > 0 and difference["p_holm"] < 1.0 - level
    return (f"{rises}, {flat}; difference {difference['difference']:+.4g} "
            f"[{difference['low']:+.4g}, {difference['high']:+.4g}] ({difference['pairing']}), "
            f"p = {difference['p_value']:.3g}, Holm p = {difference['p_holm']:.3g}: claim "
            f"{'supported' if holds else 'not supported'}")
