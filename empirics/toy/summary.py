"""What the toy commands print, apart from what they measure (`empirics.toy.sweep`,
`empirics.toy.study`): a sweep's table of R(N) measured next to R(N) predicted with the three
exponents, its figures, and the study's table of exponents per cell.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from empirics.records.toy import ToyStudy, ToySweep
from empirics.toy.readouts import MIN_FIT_COUNT, fit_mask
from empirics.toy.sweep import check_prediction, failed_nets, predicted_slope
from theory.sweep import TheoryRun
from theory.toy.config import arm_label
from theory.toy.plot import plot_isolation_profiles, plot_toy_sweep

TOY_COLUMNS = (
    ("N", "{:>6.0f}"), ("R_neur", "{:>7.2f}"), ("range", "{:>9}"), ("R_feat", "{:>7.2f}"),
    ("R_pred", "{:>7.0f}"), ("s_Ros", "{:>7.3f}"), ("s_non", "{:>7.3f}"), ("null", "{:>6.2f}"),
    ("perm", "{:>6.2f}"), ("lambda", "{:>9.2e}"), ("ded_f1", "{:>6.1f}"), ("loss", "{:>9.2e}"),
    ("failed", "{:>6}"),
)


def format_toy_table(sweep, predicted: TheoryRun) -> str:
    """R(N) measured (mean and range over seed pairs) next to R(N) predicted, isolation of
    Rosetta and non-Rosetta neurons, the nulls, the nets' fitted price lambda, feature 1's
    dedicated neurons, the evaluation loss and failed nets; then the exponents: measured,
    predicted by the allocation model and predicted from the nets' internals. A prediction
    at another beta, threshold or widths than the sweep's is refused (`check_prediction`)."""
    check_prediction(sweep, predicted)
    counts = sweep.per_pair["rosetta_neurons"]
    instance = sweep.per_instance
    finite = np.isfinite(counts)
    low = np.where(finite, counts, np.inf).min(axis=0)
    high = np.where(finite, counts, -np.inf).max(axis=0)
    columns = [sweep.widths, sweep.mean("rosetta_neurons"),
               [f"{lo:.0f}-{hi:.0f}" if np.isfinite(lo) else "-" for lo, hi in zip(low, high)],
               sweep.mean("rosetta_features"), predicted.sweep["rosetta_count"],
               sweep.mean("isolation_rosetta"), sweep.mean("isolation_nonrosetta"),
               sweep.mean("null_neurons"), sweep.mean("permuted_neurons"),
               _kept_mean(instance["price"], instance["failed"]),
               instance["redundancy_top"].mean(0), instance["eval_loss"].mean(0),
               [f"{int(n)}/{len(instance['failed'])}" for n in instance["failed"].sum(0)]]
    rows = [" ".join(f"{name:>{len(fmt.format(0))}}" for name, fmt in TOY_COLUMNS)]
    for i in range(len(sweep.widths)):
        rows.append(" ".join(fmt.format(col[i]) for (_, fmt), col in zip(TOY_COLUMNS, columns)))
    toy = sweep.config["toy"]
    slope = predicted_slope(sweep.widths, predicted.sweep["rosetta_count"])
    fitted = (f"fitted {slope:.3f} on the widths with R >= {MIN_FIT_COUNT}" if np.isfinite(slope)
              else f"not fitted (fewer than two widths with R >= {MIN_FIT_COUNT}: the "
                   "staircase above)")
    fit_widths = sweep.widths[fit_mask(counts)].astype(int).tolist()
    level = f"{100 * sweep.level:g}%"
    rows += [
        f"toy nets ({arm_label(toy)}, beta = {toy['beta']:g}, n = {toy['n_features']}, "
        f"{toy['steps']} steps): rho* = {sweep.config['rho_star']:g}, {len(sweep.pairs)} seed "
        f"pairs; exponent of R_neurons {_interval(sweep.exponent_neurons)}, of R_features "
        f"{_interval(sweep.exponent_features)} ({level} bootstrap over seed pairs; widths with "
        f"mean R >= {MIN_FIT_COUNT}: {fit_widths})",
        f"from the nets' internals: price lambda ~ N^{_interval(sweep.exponent_price)}, so "
        f"R ~ N^(gamma/beta) = N^{_interval(sweep.exponent_internal)} (KKT profile fitted to "
        f"each net's isolation by rank; 1/beta = {1 / toy['beta']:.3f})",
        f"allocation model P1 at the same widths: {fitted}; derived "
        f"{predicted.derived_exponent:.4f} ({predicted.derived_exponent_expr})",
    ]
    if instance["failed"].any():
        rows.append("failed to train (left out of the counts): "
                    + failed_nets(toy["seeds"], sweep.widths, instance["failed"]))
    return "\n".join(rows)


def _kept_mean(values, failed) -> np.ndarray:
    """Mean over the seeds that trained, (W,) (NaN where every seed failed)."""
    kept = (~failed).sum(axis=0)
    return np.where(kept > 0, np.where(failed, 0.0, values).sum(axis=0) / np.maximum(kept, 1),
                    np.nan)


def _interval(values, digits: int = 3) -> str:
    """"0.512 [0.470, 0.555]": an exponent and its interval ("not fitted" without one)."""
    estimate, low, high = values
    if not np.isfinite(estimate):
        return "not fitted"
    return f"{estimate:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def toy_summary(sweep: ToySweep, predicted: TheoryRun, directory: Path, *, plot: bool) -> str:
    """What the toy commands print: the table, and, with `plot`, the paths of the
    Figure-27-style plot drawn into `directory`/rosetta_toy; then the record's directory."""
    lines = [format_toy_table(sweep, predicted)]
    if plot:
        paths = plot_toy_sweep(sweep, predicted, directory / "rosetta_toy")
        paths += plot_isolation_profiles(sweep, directory / "isolation_profiles")
        lines.append("figures: " + ", ".join(str(p) for p in paths))
    lines.append(f"toy record: {directory}")
    return "\n".join(lines)


def format_study(study: ToyStudy) -> str:
    """The table arm x beta x pool x steps -> exponents [95% intervals] vs 1/beta."""
    head = (f"{'arm':>5} {'beta':>4} {'n':>5} {'steps':>5}  {'R_neurons':>22}  "
            f"{'R_features':>22}  {'internals':>22} {'1/beta':>6} {'failed':>6} {'conv':>5} "
            f"{'time':>6}")
    lines = [head]
    for row in study.rows:
        conv = {None: "-", True: "yes", False: "no"}[row["converged"]]
        lines.append(
            f"{row['arm']:>5} {row['beta']:>4g} {row['n_features']:>5} {row['steps']:>5}  "
            f"{_interval(row['exponent_neurons'], 2):>22}  "
            f"{_interval(row['exponent_features'], 2):>22}"
            f"  {_interval(row['exponent_internal'], 2):>22} {row['inverse_beta']:>6.3f} "
            f"{row['failed']:>3}/{row['nets']:<2} {conv:>5} {row['seconds']:>5.0f}s")
    if len(study.rows) < study.n_cells:
        lines.append(f"partial study: {len(study.rows)} of {study.n_cells} cells (the rest "
                     "not run yet: python -m empirics.toy_study with the same flags runs them)")
    return "\n".join(lines)
