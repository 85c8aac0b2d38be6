"""The toy's figures: one sweep like the paper's Figure 27 (counts and isolation against
width, next to the allocation model), each width's isolation profile by rank, and the toy
study's exponents per arm against beta and against the feature pool (from
`empirics.records.ToyStudy.rows`). Drawn in the package's style (`runstore.figures`)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

from runstore.figures import BULK_COLOUR, ROSETTA_COLOUR, apply_style, save_figure
from theory.sweep import TheoryRun
from theory.toy.config import arm_label

ARM_COLOURS = {"none": "#1f77b4", "rent": "#d62728"}
SERIES = (("exponent_neurons", "o", "R_neurons"), ("exponent_features", "s", "R_features"),
          ("exponent_internal", "^", "internals"))


def _errorbar(ax, x, interval, **style) -> None:
    estimate, low, high = interval
    if not np.isfinite(estimate):
        return
    err = [[estimate - low if np.isfinite(low) else 0.0],
           [high - estimate if np.isfinite(high) else 0.0]]
    ax.errorbar([x], [estimate], yerr=err, capsize=2, lw=0.8, ms=4, **style)


def draw_exponents_by_beta(rows: list[dict], ax, *, pool: int) -> None:
    """Every arm's exponents at feature pool `pool` against beta, both training lengths
    (filled: the longer), with 1/beta (P1) and 1 (the covariance lemma)."""
    cells = [r for r in rows if r["n_features"] == pool]
    longest = max((r["steps"] for r in cells), default=0)
    betas = sorted({r["beta"] for r in cells})
    grid = np.linspace(min(betas, default=1.2) * 0.9, max(betas, default=3.0) * 1.05, 50)
    ax.plot(grid, 1.0 / grid, "k-", lw=0.8, label=r"$1/\beta$ (P1)")
    ax.axhline(1.0, color="0.5", lw=0.8, ls=":", label="1 (no rent: covariance)")
    offsets = {name: 0.04 * (i - 1) for i, (name, _, _) in enumerate(SERIES)}
    for row in cells:
        for name, marker, _ in SERIES:
            face = ARM_COLOURS[row["arm"]] if row["steps"] == longest else "white"
            _errorbar(ax, row["beta"] + offsets[name] + (0.015 if row["arm"] == "rent" else 0),
                      row[name], fmt=marker, color=ARM_COLOURS[row["arm"]], mfc=face)
    for arm, colour in ARM_COLOURS.items():
        ax.plot([], [], "o", color=colour, label=f"arm: {arm}")
    for name, marker, label in SERIES:
        ax.plot([], [], marker, color="0.3", mfc="white", label=label)
    ax.set(xlabel=r"importance exponent $\beta$", ylabel="exponent of R(N)",
           title=f"arms at n = {pool} (filled: {longest} steps)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=4)


def scan_cells(rows: list[dict], beta: float) -> list[dict]:
    """The pool scan's cells at one beta: for each arm and pool, its shortest length (the
    scan trains a wider pool longer, so its lengths differ from pool to pool)."""
    shortest: dict[tuple[str, int], dict] = {}
    for row in rows:
        if row["beta"] != beta:
            continue
        key = (row["arm"], row["n_features"])
        if key not in shortest or row["steps"] < shortest[key]["steps"]:
            shortest[key] = row
    return list(shortest.values())


def draw_pool_scan(rows: list[dict], ax, *, beta: float) -> None:
    """The exponents against the feature pool n at one beta, each pool at its shortest
    length (named under its tick)."""
    cells = scan_cells(rows, beta)
    for row in cells:
        for name, marker, _ in SERIES:
            _errorbar(ax, row["n_features"] * (1.06 if row["arm"] == "rent" else 1.0),
                      row[name], fmt=marker, color=ARM_COLOURS[row["arm"]],
                      mfc=ARM_COLOURS[row["arm"]] if name == "exponent_neurons" else "white")
    ax.axhline(1.0 / beta, color="k", lw=0.8, label=rf"$1/\beta$ = {1 / beta:.2f}")
    ax.axhline(1.0, color="0.5", lw=0.8, ls=":", label="1")
    steps = {r["n_features"]: r["steps"] for r in cells}
    pools = sorted(steps)
    ax.set_xscale("log")
    if pools:
        ax.set_xticks(pools, [f"{n}\n{steps[n]} steps" for n in pools])
        ax.set_xlim(min(pools) / 1.4, max(pools) * 1.4)
        ax.minorticks_off()
    ax.set(xlabel="feature pool n (p n fixed)", ylabel="exponent of R(N)",
           title=rf"pool scan ($\beta$ = {beta:g})")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2)


def plot_toy_study(rows: list[dict], stem: str | Path, *, scan_beta: float | None = None
                   ) -> list[Path]:
    """Both panels side by side, saved as stem.png and stem.pdf."""
    apply_style()
    pools = sorted({r["n_features"] for r in rows})
    if scan_beta is None:
        by_beta = {b: len({r["n_features"] for r in rows if r["beta"] == b})
                   for b in {r["beta"] for r in rows}}
        scan_beta = max(by_beta, key=by_beta.get) if by_beta else 2.0
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.0), layout="constrained")
    draw_exponents_by_beta(rows, axes[0], pool=pools[0] if pools else 0)
    draw_pool_scan(rows, axes[1], beta=scan_beta)
    try:
        return save_figure(fig, stem)
    finally:
        plt.close(fig)


def draw_isolation_profiles(sweep, ax_isolation, ax_redundancy) -> None:
    """Each width's feature isolation against importance rank (mean over the nets that
    trained) with the KKT profile at the mean fitted price, and the dedicated neurons per
    feature. `sweep` is a toy-family record with `profiles` and `per_instance`."""
    # here, not at the top: the internals read nets (torch), the figures import without it
    from theory.toy.internals import FIT_RHO, input_kurtosis, kkt_profile

    toy = sweep.config["toy"]
    kurtosis = input_kurtosis(toy["p"])
    kept = ~sweep.per_instance["failed"]
    colours = plt.cm.viridis(np.linspace(0.1, 0.9, len(sweep.widths)))
    for w, (width, colour) in enumerate(zip(sweep.widths, colours)):
        if not kept[:, w].any():
            continue
        n_fit = int(min(toy["n_features"], FIT_RHO * width))
        ranks = np.arange(1, n_fit + 1)
        measured = sweep.profiles["isolation"][kept[:, w], w, :n_fit].mean(axis=0)
        price = float(np.exp(np.log(sweep.per_instance["price"][kept[:, w], w]).mean()))
        ax_isolation.plot(ranks, measured, "-", lw=0.8, color=colour, label=f"N = {width:g}")
        ax_isolation.plot(ranks, kkt_profile(ranks, price, beta=toy["beta"],
                                             kurtosis=kurtosis), ":", lw=0.8, color=colour)
        redundancy = sweep.profiles["redundancy"][kept[:, w], w, :n_fit].mean(axis=0)
        ax_redundancy.plot(ranks, redundancy, "-", lw=0.8, color=colour)
    ax_isolation.plot([], [], "k:", lw=0.8, label="KKT profile at the fitted price")
    ax_isolation.set(xscale="log", xlabel="importance rank r", ylim=(0, 1.02),
                     ylabel="isolation s_r of the feature's best neuron",
                     title="isolation by rank: trained (solid), KKT (dotted)")
    ax_isolation.legend(loc="upper right")
    ax_redundancy.set(xscale="log", yscale="symlog", ylim=(0, None), xlabel="importance rank r",
                      ylabel="dedicated neurons (isolation >= 0.5)",
                      title="redundancy: neurons per feature")


def plot_isolation_profiles(sweep, stem: str | Path) -> list[Path]:
    """`draw_isolation_profiles` on two panels, saved as stem.png and stem.pdf."""
    apply_style()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
    draw_isolation_profiles(sweep, *axes)
    try:
        return save_figure(fig, stem)
    finally:
        plt.close(fig)


def draw_toy_sweep(sweep, predicted: TheoryRun, axes) -> None:
    """Trained toy nets like the paper's Figure 27 on three axes: Rosetta count, Rosetta
    isolation and non-Rosetta isolation against width, each seed pair as a dot and the mean
    as a line.

    `sweep` is a toy-family record (empirics.records.ToySweep: `widths`, `per_pair` arrays of
    shape (pairs, widths), `mean(name)`); `predicted` the allocation model at its widths.
    """
    n = sweep.widths
    panels = [("rosetta_neurons", "Rosetta neurons R(N)", ROSETTA_COLOUR),
              ("isolation_rosetta", "isolation of Rosetta neurons", ROSETTA_COLOUR),
              ("isolation_nonrosetta", "isolation of non-Rosetta neurons", BULK_COLOUR)]
    for ax, (name, title, colour) in zip(axes, panels):
        values = sweep.per_pair[name]
        ax.plot(np.broadcast_to(n, values.shape).ravel(), values.ravel(), ".", ms=3,
                color=colour, alpha=0.5)
        ax.plot(n, sweep.mean(name), "o-", ms=3, color=colour, label="trained (mean of pairs)")
        ax.set(xscale="log", xlabel="neurons N", title=title)
        label_widths(ax, n)
    estimate, low, high = sweep.exponent_neurons
    axes[0].plot(n, sweep.mean("rosetta_features"), "s--", ms=3, color="0.3",
                 label="distinct dominant features")
    count = predicted.sweep["rosetta_count"]
    axes[0].plot(n[count > 0], count[count > 0], "-", lw=0.8, color="k",
                 label=rf"allocation model ($N^{{{predicted.derived_exponent:.3g}}}$)")
    axes[0].plot(n, sweep.mean("null_neurons"), "x:", ms=4, color="0.5", label="untrained pair")
    axes[0].set_yscale("symlog", linthresh=1)  # the untrained null is often 0
    axes[0].yaxis.set_major_formatter(ScalarFormatter())
    internal = getattr(sweep, "exponent_internal", [np.nan] * 3)[0]
    slope = (f"slope {estimate:.2f} [{low:.2f}, {high:.2f}]" if np.isfinite(estimate)
             else "slope not fitted (< 2 widths with R >= 10)")
    axes[0].set(ylabel="count", title=f"R(N): {slope}" + (
        f"; internals {internal:.2f}" if np.isfinite(internal) else ""))
    axes[0].legend(loc="lower right", bbox_to_anchor=(1, 0.08))
    for ax in axes[1:]:
        ax.set(ylabel="top feature's share of weight norm", ylim=(0, 1))


def label_widths(ax, widths) -> None:
    """Tick a log x axis at the given widths, written as plain numbers (8, 16, ..., 128)."""
    ax.xaxis.set_major_locator(FixedLocator(np.asarray(widths, dtype=float)))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_locator(NullLocator())


def toy_sweep_title(sweep) -> str:
    """One line naming the toy sweep's configuration (the title of its figure)."""
    toy = sweep.config["toy"]
    arm = arm_label(toy, kappa_format=".3g")
    return (f"toy nets ({arm}): beta={toy['beta']:g}, n={toy['n_features']}, p={toy['p']:.3g}, "
            f"rho*={sweep.config['rho_star']:g}, {toy['steps']} steps, "
            f"{len(sweep.pairs)} seed pairs")


def plot_toy_sweep(sweep, predicted: TheoryRun, stem: str | Path) -> list[Path]:
    """`draw_toy_sweep` on one row of three panels, saved as stem.png and stem.pdf."""
    apply_style()
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4), layout="constrained")
    draw_toy_sweep(sweep, predicted, axes)
    fig.suptitle(toy_sweep_title(sweep))
    try:
        return save_figure(fig, stem)
    finally:
        plt.close(fig)
