"""The bridge's results as text: what `python -m bridge.compare` prints of a `FamilyFit`
(the table of counts by size, the exponent's intervals and the verdict, the nulls' fits,
the exactness of the counts, the closures at a beta from the data, the calibrated fit and
the polarization trends). The one module of the bridge that writes text of results (the
figures are `bridge.plot`'s); everything it reads is computed and recorded elsewhere.
Torch-free."""

from __future__ import annotations

from collections.abc import Sequence

from bridge.calibration import calibration_text
from bridge.closures import ClosureCheck
from bridge.results import CalibratedFit, FamilyFit, NullFit, SeriesFit
from bridge.trends import Polarization
from empirics.records.pair import rosetta_fraction


def format_family(fit: FamilyFit) -> str:
    """The report of a family's fit: warnings, the raw counts' fit, the calibrated counts'
    fit, the polarization trends."""
    series = ", ".join(f"{name}={value}" for name, value in fit.series.items())
    raw = fit.raw
    lines = [f"warning: {text}" for text in fit.warnings]
    lines.append(f"family {fit.family}: {raw.n_fitted} matched pairs at {len(raw.groups)} "
                 f"sizes (N = {fit.size}); series: {series}")
    lines.append(format_table(raw))
    lines += exactness_lines(raw.not_exact, raw.n_fitted)
    lines += _written(raw)
    lines += [line for check in raw.closures for line in format_closures(check)]
    if fit.calibrated is not None:
        lines += format_calibrated(fit.calibrated)
    if fit.polarization is not None:
        lines += format_polarization(fit.polarization)
    elif fit.polarization_hint:
        lines.append("polarization: no selectivity records of the pairs fitted; make them "
                     f"with {fit.polarization_hint}")
    return "\n".join(lines)


def format_table(fit: SeriesFit) -> str:
    """The counts by size with their error bars, the exponent's intervals, the agreement
    with the prediction, the nulls' fits and the verdict."""
    comparison = fit.comparison
    lines = [f"{'N':>12} {'pairs':>5} {'R(N)':>10} {'R/N':>9} {'bar low':>9} {'bar high':>9}"]
    bars = comparison.error_bars
    for i, (size, records) in enumerate(fit.groups.items()):
        low = f"{bars['low'][i]:9.1f}" if bars else f"{'-':>9}"
        high = f"{bars['high'][i]:9.1f}" if bars else f"{'-':>9}"
        lines.append(f"{size:12.4g} {len(records):5d} {comparison.counts[i]:10.1f} "
                     f"{rosetta_fraction(comparison.counts[i], size):9.2e} {low} {high}")
    lines.append("")
    for method, ci in comparison.intervals.items():
        lines.append(f"alpha [{method}]: {ci['estimate']:.3f} [{ci['low']:.3f}, "
                     f"{ci['high']:.3f}]")
    if comparison.agreement:
        a = comparison.agreement
        lines.append(f"predicted alpha {a['alpha_pred']:.3f}: t = {a['z']:.2f} on {a['df']} df "
                     f"(p = {a['p_value']:.3g}), TOST p = {a['tost_p']:.3f} (margin "
                     f"{a['margin']:g})")
    lines.extend(format_null(null) for null in fit.nulls)
    lines.append(f"verdict: {comparison.verdict}")
    return "\n".join(lines)


def format_null(null: NullFit) -> str:
    """One null's fit, or its counts where it has none."""
    if null.fit is None:
        return (f"null {null.null}: counts {list(null.counts)} at {null.n_sizes} sizes "
                "(no power-law fit)")
    fit = null.fit
    return f"null {null.null}: alpha = {fit.alpha:.3f} [{fit.low:.3f}, {fit.high:.3f}]"


def exactness_lines(not_exact: Sequence[str], total: int) -> list[str]:
    """What the fitted counts are guaranteed to be: one line when all are certified exact,
    else how many are not and (up to 3) which records and why."""
    if not not_exact:
        return [f"counts: all {total} certified exact"]
    more = [f"  ... and {len(not_exact) - 3} more"] if len(not_exact) > 3 else []
    return [(f"warning: counts: {len(not_exact)} of {total} not certified exact (the fit "
             "above is over counts that may miss or hold wrong pairs):"),
            *(f"  {line}" for line in not_exact[:3]), *more]


def format_closures(check: ClosureCheck) -> list[str]:
    """The table of every closure at a beta from the data (`bridge.compare --beta-from`)."""
    from theory.params import CLOSURES

    beta, measured = check.beta, check.measured
    lines = [(f"closures at beta = {beta[0]:.3f} [{beta[1]:.3f}, {beta[2]:.3f}] "
              f"({check.label}) against alpha = {measured[0]:.3f} [{measured[1]:.3f}, "
              f"{measured[2]:.3f}]:")]
    for row in check.rows:
        estimate, low, high = row.predicted
        note = "  (beta <= 1 cut at 1+)" if row.cut_at_domain else ""
        lines.append(f"  {row.closure:3s} {estimate:6.3f} [{low:.3f}, {high:.3f}]  "
                     f"{row.verdict:10s} {CLOSURES[row.closure]}{note}")
    return lines


def format_calibrated(calibrated: CalibratedFit) -> list[str]:
    """The calibrated counts' fit with its thresholds by N, or why there is none."""
    head = (f"calibrated count ({calibrated.calibration['rule']}: "
            f"{calibration_text(calibrated.calibration)})")
    if calibrated.reason is not None:
        return [f"{head}: not fitted: {calibrated.reason}"]
    if calibrated.fit is None:
        lacking = calibrated.lacking
        more = [f"  ... and {len(lacking) - 3} more"] if len(lacking) > 3 else []
        return ["", f"{head}: not fitted, {len(lacking)} trained pairs lack their null:",
                *(f"  {m}" for m in lacking[:3]), *more]
    fit = calibrated.fit
    lines = ["", f"{head}; mean threshold r by N: {_by_size(calibrated.thresholds, '.3f')}"]
    if calibrated.subtracted:
        lines.append("  chance pairs subtracted by N (the nulls' mean count above it): "
                     + _by_size(calibrated.chance, ".2f"))
    lines.append(format_table(fit))
    lines += exactness_lines(fit.not_exact, fit.n_fitted)
    lines += [line for check in fit.closures for line in format_closures(check)]
    lines += [f"  not calibrated: {m}" for m in calibrated.missing]
    return lines + _written(fit)


def format_polarization(result: Polarization) -> list[str]:
    """Printable lines: one per metric and population, and the verdict (with the slope
    difference, its raw and Holm-adjusted p-values)."""
    unit = f"N = {result.size}" if result.size else "N's unit not recorded"
    lines = [(f"polarization ({result.source}, {unit}), slope per unit log N; the claim is "
              f"tested on the Rosetta - control difference, {len(result.differences)} "
              f"readings, {result.correction or 'no correction'}:")]
    for metric, by_population in result.trends.items():
        for population, t in by_population.items():
            lines.append(f"  {metric:>22} {population:>8}: {t['slope']:+.4g} "
                         f"[{t['low']:+.4g}, {t['high']:+.4g}] ({t['n_sizes']} sizes)")
        lines.append(f"  {metric:>22}: {result.verdicts[metric]}")
    return lines


def _written(fit: SeriesFit) -> list[str]:
    """Where the fit's figures and record are."""
    figures = ["figure: " + ", ".join(str(p) for p in fit.figures)] if fit.figures else []
    return [*figures, f"record: {fit.directory}"]


def _by_size(values: dict, spec: str) -> str:
    return ", ".join(f"{size:.4g}: {value:{spec}}" for size, value in values.items())
