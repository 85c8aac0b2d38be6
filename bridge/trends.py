"""Polarization trends: does selectivity rise with size for Rosetta neurons, and not for others?

The paper's claim is a positive slope of mean Rosetta selectivity against log N and a slope
<= 0 for a size-matched non-Rosetta control. `selectivity_points` gathers the per-size means
(with their intervals) from SelectivityRecords (`python -m empirics.analyze`), `toy_points`
from a ToySweep (the toy's selectivity is its neurons' isolation), and `polarization` fits
each population's trend with `bridge.agreement.fit_trend` (OLS on log N, t interval) and
states, without forcing it, whether the claim's two halves hold at the interval level.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Sequence

import numpy as np
from scipy import stats

from bridge.agreement import fit_trend
from bridge.points import group_by_size
from empirics.records.analysis import SelectivityRecord
from empirics.records.toy import ToySweep
from runstore import Record

POPULATIONS = ("rosetta", "control")


@dataclasses.dataclass(frozen=True)
class Polarization(Record):
    """Per-size selectivity of Rosetta and control neurons and their trends against log N.

    `sizes` (S,); `points` maps "<metric>/<population>" to (S, 3) [mean, low, high];
    `trends[metric][population]` holds a `Trend`'s fields; `verdicts[metric]` a one-line
    reading of the claim; `source` is "selectivity" (model records) or "toy-isolation".
    """

    kind: ClassVar[str] = "polarization"
    version: ClassVar[int] = 1

    family: str
    source: str
    sizes: np.ndarray
    points: dict
    trends: dict
    verdicts: dict


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
                 points: dict[str, np.ndarray], *, level: float = 0.95) -> Polarization:
    """Fit every metric's Rosetta and control trends (sizes with a finite mean only; a trend
    needs three) and read the claim off their intervals."""
    trends, verdicts = {}, {}
    for metric in sorted({key.split("/")[0] for key in points}):
        trends[metric] = {}
        for population in POPULATIONS:
            means = points.get(f"{metric}/{population}", np.full((len(sizes), 3), np.nan))[:, 0]
            keep = np.isfinite(means)
            if keep.sum() >= 3:
                trend = fit_trend(sizes[keep], means[keep], level=level)
                trends[metric][population] = dataclasses.asdict(trend) | {
                    "n_sizes": int(keep.sum())}
        verdicts[metric] = read_claim(trends[metric])
    return Polarization(config=config, family=family, source=source, sizes=sizes,
                        points=points, trends=trends, verdicts=verdicts)


def read_claim(trends: dict) -> str:
    """The claim read off the intervals, half by half: "supported" when the Rosetta slope's
    interval lies above 0 and the control's does not (its slope is <= 0 or unresolved)."""
    if set(POPULATIONS) - set(trends):
        return "too few sizes for a trend"
    rosetta, control = trends["rosetta"], trends["control"]
    rises = ("Rosetta rises" if rosetta["low"] > 0 else "Rosetta falls" if rosetta["high"] < 0
             else "Rosetta trend not resolved")
    flat = ("control rises" if control["low"] > 0 else "control falls"
            if control["high"] < 0 else "control flat within its interval")
    holds = rosetta["low"] > 0 and control["low"] <= 0
    return f"{rises}, {flat}: claim {'supported' if holds else 'not supported'}"


def format_polarization(result: Polarization) -> list[str]:
    """Printable lines: one per metric and population, and the verdict."""
    lines = [f"polarization ({result.source}), slope per unit log N:"]
    for metric, by_population in result.trends.items():
        for population, t in by_population.items():
            lines.append(f"  {metric:>22} {population:>8}: {t['slope']:+.4g} "
                         f"[{t['low']:+.4g}, {t['high']:+.4g}] ({t['n_sizes']} sizes)")
        lines.append(f"  {metric:>22}: {result.verdicts[metric]}")
    return lines
