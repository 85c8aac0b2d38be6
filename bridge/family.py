"""A family's scaling fit from its saved records: R(N) = a N^alpha with its intervals, the
theory's exponent against it, the nulls fitted the same way, and the polarization trends;
written as a Comparison record (with a log-log plot) and a report to print. Torch-free."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Sequence

import numpy as np

from bridge.agreement import predict_with_delta_method
from bridge.baseline import leave_out_untrained
from bridge.calibration import calibrate, calibrated_dir, calibration_text
from bridge.comparison import Comparison, build_comparison, headline_interval
from bridge.points import family_points, group_by_size, inexact_points, mean_counts
from bridge.replicates import count_once
from bridge.selection import completeness_warnings, flatten, outlier_warnings, select_series
from empirics.records.anchors import AnchorRecord
from empirics.records.match import MatchRecord
from empirics.records.nulls import CALIBRATION, CALIBRATIONS, NULL_NAMES, null_partners
from empirics.records.pair import ScalingPoint, rosetta_fraction
from runstore import find_records, read_header, run_dir

#: How to produce the records a family needs, named when none exist.
PRODUCERS = {
    "language": "python -m empirics.match --family language --all --out RUNS "
                "(needs the Pythia / OPT / GPT-2 / Qwen2.5 weights in the Hugging Face cache or "
                "local directories; see empirics/models/registry.py for the ids)",
    "vision": "python -m empirics.match --family vision --all --out RUNS "
              "(needs the OpenCLIP and DINOv2 weights in the Hugging Face cache or local "
              "directories; see empirics/models/registry.py)",
    "toy": "python -m theory.simulate --beta BETA --out RUNS (trains the toy nets on CPU)",
}


#: What `--require-exact` demands: nothing, every fitted count, or the calibrated counts.
REQUIRE_EXACT = (None, "all", "calibrated")


class CannotFit(LookupError):
    """The records under the root do not support the fit (the message says why and, when
    none exist, which command makes them)."""


@dataclasses.dataclass(frozen=True)
class CompareSettings:
    """What `python -m bridge.compare` fits: which family's records (under `records`; its
    anchor sets with `anchors`), N as neurons or parameters, the theory's prediction
    (`beta`, `closure`), the interval level, the equivalence margin, resampling sizes and
    seed, where the Comparison goes (`out`, default `records`), whether to plot, and whether
    pairs with a model that learnt nothing stay in the fits (`bridge.baseline`)."""

    family: str
    records: Path = Path("runs")
    beta: float | None = None
    closure: str = "P1"
    size: str = "neurons"
    level: float = 0.95
    margin: float = 0.1
    resamples: int = 10_000
    replicates: int = 200
    seed: int = 0
    out: Path | None = None
    plot: bool = True
    anchors: bool = False
    select: tuple = ()
    null_quantile: float | None = 0.99
    calibrate_against: str = "permuted"
    calibration: str = CALIBRATION
    beta_from: tuple = ()
    beta_estimate: str | None = None
    require_exact: str | None = None
    keep_untrained_models: bool = False

    def __post_init__(self):
        if not 0.0 < self.level < 1.0:
            raise ValueError(f"--level must lie in (0, 1), got {self.level}")
        if self.margin <= 0:
            raise ValueError(f"--margin must be positive, got {self.margin}")
        if self.resamples < 100:
            raise ValueError(f"--resamples must be at least 100, got {self.resamples}")
        if self.replicates < 0:
            raise ValueError(f"--replicates must be >= 0 (0: no data-level interval), got "
                             f"{self.replicates}")
        needed = math.ceil(2.0 / (1.0 - self.level))  # one replicate beyond each tail
        if 0 < self.replicates < needed:
            raise ValueError(f"--replicates {self.replicates} is too few for a "
                             f"{self.level:.0%} percentile interval: give at least {needed} "
                             "(or 0: no data-level interval)")
        if self.calibrate_against not in NULL_NAMES:
            raise ValueError(f"--calibrate-against must be one of {', '.join(NULL_NAMES)}, "
                             f"got {self.calibrate_against!r}")
        if self.calibration not in CALIBRATIONS:
            raise ValueError(f"--calibration must be one of {', '.join(CALIBRATIONS)}, got "
                             f"{self.calibration!r}")
        if self.null_quantile is not None and not 0.0 < self.null_quantile < 1.0:
            raise ValueError(f"--null-quantile must lie in (0, 1), got {self.null_quantile}")
        if self.size not in ("neurons", "params"):
            raise ValueError(f"--size must be neurons or params, got {self.size!r}")
        if self.require_exact not in REQUIRE_EXACT:
            raise ValueError(f"--require-exact must be one of {', '.join(REQUIRE_EXACT[1:])}, "
                             f"got {self.require_exact!r}")
        if self.require_exact == "calibrated" and (self.null_quantile is None or self.anchors
                                                   or self.family == "toy"):
            raise ValueError("--require-exact calibrated needs calibrated counts (not with "
                             "--no-calibration, --anchors or the toy family)")


def find_series(settings: CompareSettings, skipped: list | None = None
                ) -> list[tuple[Path, ScalingPoint]]:
    """The family's MatchRecords (or AnchorRecords); `CannotFit` naming the command that
    makes them when there are none. Damaged records are passed over and, with `skipped`,
    listed there as (run folder, reason)."""
    if settings.anchors:
        found = find_records(settings.records, AnchorRecord, skipped=skipped,
                             family=settings.family)
        producer = (f"python -m empirics.anchors --family {settings.family} --records "
                    f"{settings.records}")
        kind = "anchor records"
    else:
        found = find_records(settings.records, MatchRecord, skipped=skipped,
                             family=settings.family)
        producer = PRODUCERS.get(settings.family, "python -m empirics.match --family "
                                 f"{settings.family} ... --out RUNS")
        producer = producer.replace("RUNS", str(settings.records))
        kind = "MatchRecords"
    if not found:
        raise CannotFit(f"no {kind} of family {settings.family!r} under {settings.records}. "
                        f"Produce them with:\n  {producer}")
    return found


def prediction_for(beta: float | None, closure: str):
    if beta is None:
        return None
    from theory.symbolic import exponent

    return predict_with_delta_method(lambda b: exponent(closure, b), beta)


def format_table(groups: dict, comparison: Comparison, null_lines: list[str]) -> str:
    lines = [f"{'N':>12} {'pairs':>5} {'R(N)':>10} {'R/N':>9} {'bar low':>9} {'bar high':>9}"]
    bars = comparison.error_bars
    for i, (size, records) in enumerate(groups.items()):
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
    lines.extend(null_lines)
    lines.append(f"verdict: {comparison.verdict}")
    return "\n".join(lines)


def compare_family(settings: CompareSettings, found: Sequence[tuple[Path, ScalingPoint]],
                   skipped: Sequence[tuple[Path, str]] = ()) -> tuple[Path, str]:
    """Fit, record and plot the counts of `found` (MatchRecords, or AnchorRecords with
    `settings.anchors`); return the Comparison's directory and the report to print.

    Raises `CannotFit` when the records do not support a fit (fewer than 3 sizes, a size
    without Rosetta pairs), `MixedSeries` when they form several series, `SameNetworks` when
    records of the same two networks disagree (records of the same networks count once:
    `bridge.replicates`). `skipped` (damaged records passed over) is reported with the
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
    lines = [f"warning: {text}" for text in warnings]
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
    groups, comparison = _fit(real, settings, config)
    null_lines = _null_fits(records, settings)
    directory = run_dir(settings.out or settings.records, "compare", config,
                        settings.family if series == "pairs" else f"{settings.family}-{series}")
    comparison.save(directory)
    lines.append(f"family {settings.family}: {len(real)} matched pairs at {len(groups)} "
                 f"sizes (N = {settings.size}); series: {_series_text(real)}")
    lines.append(format_table(groups, comparison, null_lines))
    lines += exactness_lines(config["not_exact"], len(real))
    if settings.plot:
        from bridge.plot import plot_comparison

        paths = plot_comparison(comparison, directory / "scaling")
        lines.append("figure: " + ", ".join(str(p) for p in paths))
    lines.append(f"record: {directory}")
    lines += _closures(settings, comparison, directory)
    if not settings.anchors and settings.family != "toy":
        lines += _calibrated(settings, found, config, directory)
    lines += _polarization(settings, directory,
                           {Path(path) for path, record in found if record.null == "none"})
    return directory, "\n".join(lines)


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


def _closures(settings: CompareSettings, comparison: Comparison, directory: Path) -> list[str]:
    """Every closure's exponent at each beta read from the data (`--beta-from`) against the
    headline interval, printed and written to `directory`/closures.json."""
    if not settings.beta_from:
        return []
    import json

    from bridge.closures import beta_from_record, closure_rows, format_rows
    from runstore.files import atomic_write_text

    ci = comparison.intervals[headline_interval(comparison)]
    measured = (ci["estimate"], ci["low"], ci["high"])
    lines, saved = [], []
    for source in settings.beta_from:
        beta, label = beta_from_record(source, settings.beta_estimate)
        rows = closure_rows(measured, beta)
        lines += format_rows(rows, measured, beta, label)
        saved.append({"record": str(source), "estimate": label, "beta": list(beta),
                      "measured": list(measured),
                      "closures": [dataclasses.asdict(row) for row in rows]})
    atomic_write_text(directory / "closures.json", json.dumps(saved, indent=1))
    return lines


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


def _calibrated(settings: CompareSettings, found, config: dict, directory: Path) -> list[str]:
    """The same fit on the counts calibrated by each pair's own null under the settings'
    rule (`bridge.calibration`), recorded in `directory`/`calibrated_dir`; the lines name
    the pairs whose nulls are missing. A pair of one null kind without its null never stops
    the fit of the others: trained pairs are fitted when every trained pair has its null,
    and the untrained pairs' line says which lack theirs."""
    if settings.null_quantile is None:
        return []
    matches = [(p, r) for p, r in found if isinstance(r, MatchRecord)]
    points, missing = calibrate(matches, quantile=settings.null_quantile,
                                against=settings.calibrate_against, rule=settings.calibration)
    real = [point for _, point in points if point.null == "none"]
    calibrated = {"quantile": settings.null_quantile, "against": settings.calibrate_against,
                  "rule": settings.calibration}
    head = f"calibrated count ({settings.calibration}: {calibration_text(calibrated)})"
    trained = {str(p) for p, r in matches if r.null == "none"}
    if len(real) < len(trained):
        lacking = [m for m in missing if m.split(": ", 1)[0] in trained]
        more = [f"  ... and {len(lacking) - 3} more"] if len(lacking) > 3 else []
        return ["", f"{head}: not fitted, {len(lacking)} trained pairs lack their null:",
                *(f"  {m}" for m in lacking[:3]), *more]
    config = config | {"calibrated": calibrated | {
        "nulls": {str(p): list(point.null_paths) for p, point in points},
        "null_sha256": {null: read_header(null)["arrays"]["sha256"]
                        for _, point in points for null in point.null_paths},
        "missing": missing},
        "not_exact": inexact_points([(p, point) for p, point in points
                                     if point.null == "none"])}
    try:
        groups, comparison = _fit(real, settings, config, what="pairs above the null")
    except CannotFit as reason:
        return [f"{head}: not fitted: {reason}"]
    where = directory / calibrated_dir(settings.calibrate_against, settings.calibration)
    comparison.save(where)
    closures = _closures(settings, comparison, where)
    lines = ["", *_levels(head, groups, subtracted=settings.calibration != "mutual-quantile")]
    untrained = [point for _, point in points if point.null == "untrained"]
    null_lines = _null_fits(untrained, settings) if untrained else []
    lines.append(format_table(groups, comparison, null_lines))
    lines += exactness_lines(config["not_exact"], len(real))
    lines += closures + [f"  not calibrated: {m}" for m in missing]
    if settings.plot:
        from bridge.plot import plot_comparison

        paths = plot_comparison(comparison, where / "scaling")
        lines.append("figure: " + ", ".join(str(p) for p in paths))
    lines.append(f"record: {where}")
    return lines


def _levels(head: str, groups: dict, *, subtracted: bool) -> list[str]:
    """The calibrated fit's heading with the mean threshold r at each N and, when the rule
    subtracts them, the chance pairs subtracted there."""
    def by_size(field: str, spec: str) -> str:
        return ", ".join(f"{size:.4g}: {np.mean([getattr(p, field) for p in ps]):{spec}}"
                         for size, ps in groups.items())

    lines = [f"{head}; mean threshold r by N: {by_size('threshold', '.3f')}"]
    if subtracted:
        lines.append("  chance pairs subtracted by N (the nulls' mean count above it): "
                     + by_size("chance", ".2f"))
    return lines


def exactness_lines(not_exact: Sequence[str], total: int) -> list[str]:
    """What the fitted counts are guaranteed to be: one line when all are certified exact,
    else how many are not and (up to 3) which records and why."""
    if not not_exact:
        return [f"counts: all {total} certified exact"]
    more = [f"  ... and {len(not_exact) - 3} more"] if len(not_exact) > 3 else []
    return [f"warning: counts: {len(not_exact)} of {total} not certified exact (the fit "
            "above is over counts that may miss or hold wrong pairs):",
            *(f"  {line}" for line in not_exact[:3]), *more]


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
    if settings.null_quantile is not None and not settings.anchors and settings.family != "toy":
        points, _ = calibrate([(p, r) for p, r in found if isinstance(r, MatchRecord)],
                              quantile=settings.null_quantile, against=settings.calibrate_against,
                              rule=settings.calibration)
        problems += [f"calibrated: {line}" for line in
                     inexact_points([(p, point) for p, point in points if point.null == "none"])]
    if problems:
        raise CannotFit(f"--require-exact: {len(problems)} counts are not certified exact "
                        "(match with --recheck-uncertified, a larger --subsample or --engine "
                        "block):\n" + "\n".join(f"  {line}" for line in problems))


def _series_text(records) -> str:
    """The series key shared by `records`, flattened (what was fitted, stated in full)."""
    flat = flatten(records[0].series_key())
    return ", ".join(f"{name}={value}" for name, value in flat.items())


def _polarization(settings: CompareSettings, directory: Path, fitted: set[Path]) -> list[str]:
    """Print and record the polarization trends when selectivity records (or, for the toy,
    a ToySweep) exist under the records root; the lines say how to make them otherwise.
    Only the selectivity records of the matches fitted (`fitted`, their run directories)
    count, so a --select series is never mixed with the others."""
    from bridge.trends import (
        format_polarization,
        polarization,
        selectivity_points,
        toy_points,
    )
    from empirics.records.analysis import SelectivityRecord
    from empirics.records.toy import ToySweep

    if settings.family == "toy":
        sweeps = find_records(settings.records, ToySweep)
        if not sweeps:
            return []
        path, sweep = sweeps[-1]
        sizes, points = toy_points(sweep, level=settings.level)
        source, inputs, size = "toy-isolation", [str(path)], "neurons"  # widths
    else:
        found = [(p, r) for p, r in find_records(settings.records, SelectivityRecord,
                                                 family=settings.family)
                 if r.null == "none" and Path(p).parent in fitted]
        if not found:
            return ["polarization: no selectivity records of the pairs fitted; make them with "
                    f"python -m empirics.analyze --runs {settings.records} --family "
                    f"{settings.family}"]
        sizes, points = selectivity_points([r for _, r in found], settings.size)
        source, inputs, size = "selectivity", [str(p) for p, _ in found], settings.size
    result = polarization({"family": settings.family, "level": settings.level, "records": inputs,
                           "select": list(settings.select)},
                          settings.family, source, sizes, points, level=settings.level,
                          size=size)
    result.save(directory / "polarization")
    return format_polarization(result)


def _null_fits(records: Sequence[ScalingPoint], settings: CompareSettings) -> list[str]:
    """The same OLS fit on each null's counts (where it has >= 3 sizes with pairs)."""
    from bridge.powerlaw import fit_power_law_het

    lines = []
    for null in sorted({r.null for r in records} - {"none"}):
        groups = group_by_size([r for r in records if r.null == null], settings.size)
        counts = mean_counts(groups)
        if len(groups) < 3 or np.any(counts <= 0):
            lines.append(f"null {null}: counts {counts.tolist()} at {len(groups)} sizes "
                         "(no power-law fit)")
            continue
        fit = fit_power_law_het(np.array(list(groups)), counts, level=settings.level)
        lines.append(f"null {null}: alpha = {fit.alpha:.3f} [{fit.low:.3f}, {fit.high:.3f}]")
    return lines
