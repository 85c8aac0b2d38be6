"""A family's scaling fit from its saved records: R(N) = a N^alpha with its intervals, the
theory's exponent against it, the nulls fitted the same way, the counts calibrated by each
pair's null, and the polarization trends; written as Comparison records (with log-log plots)
and returned as a `FamilyFit` (`bridge.report` writes it as text). Torch-free."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bridge.agreement import predict_with_delta_method
from bridge.baseline import leave_out_untrained
from bridge.calibration import calibrate, calibrated_dir
from bridge.closures import ClosureCheck
from bridge.comparison import Comparison, build_comparison, headline_interval
from bridge.points import family_points, group_by_size, inexact_points, mean_counts
from bridge.powerlaw import fit_power_law_het
from bridge.replicates import count_once
from bridge.results import CalibratedFit, FamilyFit, NullFit, SeriesFit
from bridge.selection import completeness_warnings, flatten, outlier_warnings, select_series
from bridge.settings import CannotFit, CompareSettings
from bridge.trends import Polarization, polarization, selectivity_points, toy_points
from empirics.records.analysis import SelectivityRecord
from empirics.records.match import MatchRecord
from empirics.records.nulls import null_partners
from empirics.records.pair import ScalingPoint
from empirics.records.toy import ToySweep
from runstore import find_records, read_header, run_dir


def prediction_for(beta: float | None, closure: str):
    if beta is None:
        return None
    from theory.symbolic import exponent

    return predict_with_delta_method(lambda b: exponent(closure, b), beta)


def compare_family(settings: CompareSettings, found: Sequence[tuple[Path, ScalingPoint]],
                   skipped: Sequence[tuple[Path, str]] = ()) -> FamilyFit:
    """Fit, record and plot the counts of `found` (MatchRecords, or AnchorRecords with
    `settings.anchors`); return what was fitted and written.

    Raises `CannotFit` when the records do not support a fit (fewer than 3 sizes, a size
    without Rosetta pairs), `MixedSeries` when they form several series, `SameNetworks` when
    records of the same two networks disagree (records of the same networks count once:
    `bridge.replicates`). `skipped` (damaged records passed over) is listed with the
    warnings."""
    series = "anchors" if settings.anchors else "pairs"
    found, same_networks = count_once(select_series(found, settings.select))
    untrained, flagged = [], []
    if not settings.anchors:
        found, untrained, flagged = leave_out_untrained(
            found, keep=settings.keep_untrained_models)
    refuse_inexact(settings, found)
    records = [record for _, record in found]
    real = [r for r in records if r.null == "none"]
    warnings = [f"skipped the damaged record {path}: {reason}" for path, reason in skipped]
    warnings += same_networks + untrained
    warnings += completeness_warnings(real, settings.size) + outlier_warnings(real, settings.size)
    below = below_null(found)
    warnings += [text for _, text in below]
    config = {name: getattr(settings, name) for name in
              ("family", "size", "beta", "closure", "level", "margin", "resamples",
               "replicates", "seed")}
    config["select"] = list(settings.select)
    config["records"] = sorted(str(path) for path, _ in found)
    config["record_sha256"] = {str(path): read_header(path)["arrays"]["sha256"]
                               for path, _ in found}
    config["warnings"] = warnings
    if below:
        config["below_null"] = [path for path, _ in below]
    config["not_exact"] = inexact_points([(p, r) for p, r in found if r.null == "none"])
    if flagged:
        config["untrained_models"] = flagged
    if series != "pairs":
        config["series"] = series
    directory = run_dir(settings.out or settings.records, "compare", config,
                        settings.family if series == "pairs" else f"{settings.family}-{series}")
    raw = _fit_series(real, records, settings, config, directory)
    calibrated = None
    if not settings.anchors and not settings.toy_family and settings.null_quantile is not None:
        calibrated = _calibrated(settings, found, config, directory)
    trends, hint = _polarization(
        settings, directory, {Path(path) for path, record in found if record.null == "none"})
    return FamilyFit(settings.family, settings.size, tuple(warnings),
                     flatten(real[0].series_key()), raw, calibrated, trends, hint)


def _fit_series(points: Sequence[ScalingPoint], nulls: Sequence[ScalingPoint],
                settings: CompareSettings, config: dict, directory: Path,
                what: str = "Rosetta pairs") -> SeriesFit:
    """Fit `points`, save the Comparison in `directory` (with its plot and the closures at
    each beta from the data), and fit the nulls among `nulls` the same way."""
    groups, comparison = _fit(points, settings, config, what)
    comparison.save(directory)
    closures = _closures(settings, comparison, directory)
    figures = ()
    if settings.plot:
        from bridge.plot import plot_comparison

        figures = tuple(plot_comparison(comparison, directory / "scaling"))
    return SeriesFit(directory, comparison, groups, _null_fits(nulls, settings),
                     tuple(config["not_exact"]), len(points), closures, figures)


def _fit(points: Sequence[ScalingPoint], settings: CompareSettings, config: dict,
         what: str = "Rosetta pairs") -> tuple[dict, Comparison]:
    """The points grouped by size and their Comparison (`CannotFit` with fewer than 3 sizes
    or a size without pairs)."""
    groups = group_by_size(points, settings.size)
    if len(groups) < 3:
        raise CannotFit(f"family {settings.family!r} has {len(groups)} sizes under "
                        f"{settings.records}; a power-law fit needs at least 3")
    rng = np.random.default_rng(settings.seed)
    sizes, counts, reps = family_points(groups, replicates=settings.replicates, rng=rng)
    if np.any(counts <= 0):
        raise CannotFit(f"family {settings.family!r} has sizes with no {what} (counts "
                        f"{counts.tolist()}); a power law needs positive counts")
    comparison = build_comparison(
        config, settings.family, sizes, counts, rng=rng, level=settings.level,
        n_resamples=settings.resamples, replicates=reps,
        prediction=prediction_for(settings.beta, settings.closure), margin=settings.margin)
    return groups, comparison


def _closures(settings: CompareSettings, comparison: Comparison, directory: Path
              ) -> tuple[ClosureCheck, ...]:
    """Every closure's exponent at each beta read from the data (`--beta-from`) against the
    headline interval, also written to `directory`/closures.json."""
    if not settings.beta_from:
        return ()
    import json

    from bridge.closures import beta_from_record, closure_rows
    from runstore.files import atomic_write_text

    ci = comparison.intervals[headline_interval(comparison)]
    measured = (ci["estimate"], ci["low"], ci["high"])
    checks, saved = [], []
    for source in settings.beta_from:
        beta, label = beta_from_record(source, settings.beta_estimate)
        rows = closure_rows(measured, beta)
        checks.append(ClosureCheck(label, beta, measured, tuple(rows)))
        saved.append({"record": str(source), "estimate": label, "beta": list(beta),
                      "measured": list(measured),
                      "closures": [dataclasses.asdict(row) for row in rows]})
    atomic_write_text(directory / "closures.json", json.dumps(saved, indent=1))
    return tuple(checks)


def below_null(found: Sequence[tuple[Path, ScalingPoint]]) -> list[tuple[str, str]]:
    """(path, warning) for each match record whose raw count is below the mean count of its
    own permutation null (trained: `--null permuted`; untrained: its permuted run): at its
    size the pair shows no more mutual pairs than chance gives."""
    matches = [(p, r) for p, r in found if isinstance(r, MatchRecord)]
    flagged = []
    for path, record in matches:
        nulls = [null for _, null in null_partners(record, matches, "permuted")]
        if not nulls:
            continue
        chance = float(np.mean([null.n_rosetta for null in nulls]))
        if record.n_rosetta < chance:
            flagged.append((str(path), (
                f"{record.model_a} x {record.model_b} ({record.null}, N = "
                f"{record.pair_size():.4g}): raw count {record.n_rosetta} is below its "
                f"permutation null's {chance:g} (mean of {len(nulls)} seed(s)): no more "
                f"pairs than chance at this size ({path})")))
    return flagged


def _calibrated(settings: CompareSettings, found, config: dict, directory: Path
                ) -> CalibratedFit:
    """The same fit on the counts calibrated by each pair's own null under the settings'
    rule (`bridge.calibration`), recorded in `directory`/`calibrated_dir`, naming the pairs
    whose nulls are missing. A pair of one null kind without its null never stops the fit
    of the others: trained pairs are fitted when every trained pair has its null, and the
    untrained pairs are listed with theirs missing."""
    matches = [(p, r) for p, r in found if isinstance(r, MatchRecord)]
    points, missing = calibrate(matches, quantile=settings.null_quantile,
                                against=settings.calibrate_against, rule=settings.calibration)
    real = [point for _, point in points if point.null == "none"]
    calibration = {"quantile": settings.null_quantile, "against": settings.calibrate_against,
                   "rule": settings.calibration}
    trained = {str(p) for p, r in matches if r.null == "none"}
    if len(real) < len(trained):
        lacking = [m for m in missing if m.split(": ", 1)[0] in trained]
        return CalibratedFit(calibration, lacking=tuple(lacking), missing=tuple(missing))
    config = config | {"calibrated": calibration | {
        "nulls": {str(p): list(point.null_paths) for p, point in points},
        "null_sha256": {null: read_header(null)["arrays"]["sha256"]
                        for _, point in points for null in point.null_paths},
        "missing": missing},
        "not_exact": inexact_points([(p, point) for p, point in points
                                     if point.null == "none"])}
    untrained = [point for _, point in points if point.null == "untrained"]
    where = directory / calibrated_dir(settings.calibrate_against, settings.calibration)
    try:
        fit = _fit_series(real, untrained, settings, config, where, what="pairs above the null")
    except CannotFit as reason:
        return CalibratedFit(calibration, reason=str(reason), missing=tuple(missing))
    subtracted = settings.calibration != "mutual-quantile"
    return CalibratedFit(calibration, fit, missing=tuple(missing),
                         thresholds=_mean_by_size(fit.groups, "threshold"),
                         chance=_mean_by_size(fit.groups, "chance") if subtracted else {},
                         subtracted=subtracted)


def _mean_by_size(groups: dict, field: str) -> dict:
    """N -> the mean of the points' `field` at that N."""
    return {size: float(np.mean([getattr(p, field) for p in points]))
            for size, points in groups.items()}


def refuse_inexact(settings: CompareSettings, found) -> None:
    """`CannotFit` naming the records whose counts `--require-exact` needs exact and are not
    (with "calibrated", only the calibrated counts of the trained pairs)."""
    if settings.require_exact is None:
        return
    pairs = [(p, r) for p, r in found if r.null == "none"]
    if settings.require_exact == "all":
        problems = inexact_points(pairs)
    else:
        problems = []
    if settings.null_quantile is not None and not settings.anchors and not settings.toy_family:
        points, _ = calibrate([(p, r) for p, r in found if isinstance(r, MatchRecord)],
                              quantile=settings.null_quantile, against=settings.calibrate_against,
                              rule=settings.calibration)
        problems += [f"calibrated: {line}" for line in
                     inexact_points([(p, point) for p, point in points if point.null == "none"])]
    if problems:
        raise CannotFit(f"--require-exact: {len(problems)} counts are not certified exact "
                        "(match with --recheck-uncertified, a larger --subsample or --engine "
                        "block):\n" + "\n".join(f"  {line}" for line in problems))


def _polarization(settings: CompareSettings, directory: Path, fitted: set[Path]
                  ) -> tuple[Polarization | None, str | None]:
    """The polarization trends, recorded, when selectivity records (or, for the toy, a
    ToySweep) exist under the records root; else None and how to make them. Only the
    selectivity records of the matches fitted (`fitted`, their run directories) count, so a
    --select series is never mixed with the others."""
    if settings.toy_family:
        sweeps = find_records(settings.records, ToySweep)
        if not sweeps:
            return None, None
        path, sweep = sweeps[-1]
        sizes, points = toy_points(sweep, level=settings.level)
        source, inputs, size = "toy-isolation", [str(path)], "neurons"  # widths
    else:
        found = [(p, r) for p, r in find_records(settings.records, SelectivityRecord,
                                                 family=settings.family)
                 if r.null == "none" and Path(p).parent in fitted]
        if not found:
            return None, (f"python -m empirics.analyze --runs {settings.records} --family "
                          f"{settings.family}")
        sizes, points = selectivity_points([r for _, r in found], settings.size)
        source, inputs, size = "selectivity", [str(p) for p, _ in found], settings.size
    result = polarization({"family": settings.family, "level": settings.level, "records": inputs,
                           "select": list(settings.select)},
                          settings.family, source, sizes, points, level=settings.level,
                          size=size)
    result.save(directory / "polarization")
    return result, None


def _null_fits(records: Sequence[ScalingPoint], settings: CompareSettings
               ) -> tuple[NullFit, ...]:
    """The same OLS fit on each null's counts (where it has >= 3 sizes with pairs)."""
    fits = []
    for null in sorted({r.null for r in records} - {"none"}):
        groups = group_by_size([r for r in records if r.null == null], settings.size)
        counts = mean_counts(groups)
        fit = None
        if len(groups) >= 3 and not np.any(counts <= 0):
            fit = fit_power_law_het(np.array(list(groups)), counts, level=settings.level)
        fits.append(NullFit(null, tuple(counts.tolist()), len(groups), fit))
    return tuple(fits)
