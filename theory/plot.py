"""Figures drawn from TheoryRun records, in the package's one style (`runstore.figures`).

`paper_figs` builds on these (it may import `theory`; `theory` may not import it). Drawing
functions take a record and axes and never compute the model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from runstore.figures import BULK_COLOUR, ROSETTA_COLOUR, new_figure, save_figure
from theory.sweep import TheoryRun

REGIME_COLOURS = {
    "saturated": "#08519c",
    "rosetta": "#6baed6",
    "partial": "#fdae6b",
    "superposed": "#d9d9d9",
    "unrepresented": "#ffffff",
}


def draw_frontiers(run: TheoryRun, ax) -> None:
    """Regimes of the allocation over N (like the paper's Figure 5): rank frontiers r_1,
    r_tau, r_0 and a(N), with the regime between each pair shaded."""
    n, sw = run.sweep["n_neurons"], run.sweep
    tau = run.config["params"]["tau"]
    curves = [np.full_like(n, 0.5), sw["frontier_one"], sw["frontier_tau"], sw["frontier_zero"],
              sw["n_represented"]]
    labels = [r"saturated core ($s_r=1$)", rf"Rosetta ($s_r\geq\tau={tau:g}$)",
              r"partially isolated ($0<s_r<\tau$)", r"strongly superposed ($s_r=0$)"]
    for lower, upper, label, colour in zip(curves, curves[1:], labels, REGIME_COLOURS.values()):
        upper = np.minimum(upper, sw["n_represented"])
        ax.fill_between(n, np.minimum(lower, upper), upper, color=colour, label=label, lw=0)
    for curve, name in zip(curves[1:], [r"$r_1$", r"$r_\tau$", r"$r_0$", r"$|A(N)|$"]):
        ax.plot(n, curve, color="k", lw=0.7)
        ax.annotate(name, (n[-1], curve[-1]), xytext=(2, 0), textcoords="offset points",
                    va="center", fontsize=7)
    ax.set(xscale="log", yscale="log", xlabel="neurons N", ylabel="feature rank r",
           title="allocation regimes", ylim=(0.5, None))
    ax.legend(loc="upper left")


def draw_counts(run: TheoryRun, ax) -> None:
    """R(N) with its derived power law, and the fraction R(N)/N on a second axis."""
    n, count = run.sweep["n_neurons"], run.sweep["rosetta_count"]
    positive = count > 0
    ax.plot(n[positive], count[positive], "o", ms=3, color=ROSETTA_COLOUR, label="R(N) numeric")
    ax.plot(n, run.sweep["frontier_tau"], "-", lw=0.8, color=ROSETTA_COLOUR,
            label=rf"$r_\tau(N)\propto N^{{{run.derived_exponent:.3g}}}$ (derived)")
    ax.set(xscale="log", yscale="log", xlabel="neurons N", ylabel="Rosetta count R(N)",
           title=(f"fitted slope {run.fitted_exponent:.3f}, " if np.isfinite(run.fitted_exponent)
                  else "no fitted slope (too few widths), ")
           + f"derived {run.derived_exponent:.3f}")
    twin = ax.twinx()
    twin.plot(n, run.sweep["rosetta_fraction"], "--", lw=0.8, color="0.4", label="R(N)/N")
    twin.set(yscale="log", ylabel="fraction R(N)/N")
    twin.spines["right"].set_visible(True)
    handles = ax.get_legend_handles_labels()
    extra = twin.get_legend_handles_labels()
    ax.legend(handles[0] + extra[0], handles[1] + extra[1], loc="lower right")


def draw_polarization(run: TheoryRun, ax) -> None:
    """Mean isolation of Rosetta features and of represented non-Rosetta features over N."""
    n = run.sweep["n_neurons"]
    ax.plot(n, run.sweep["mean_isolation_rosetta"], "o-", ms=3, color=ROSETTA_COLOUR,
            label="Rosetta features")
    ax.plot(n, run.sweep["mean_isolation_nonrosetta"], "s-", ms=3, color=BULK_COLOUR,
            label="represented non-Rosetta")
    if np.isfinite(run.rosetta_mean_limit):
        ax.axhline(run.rosetta_mean_limit, color=ROSETTA_COLOUR, lw=0.6, ls=":",
                   label=rf"$m_\infty={run.rosetta_mean_limit:.3f}$")
    ax.set(xscale="log", yscale="log", xlabel="neurons N", ylabel="mean isolation",
           title="polarization")
    ax.legend(loc="lower left")


def plot_theory_run(run: TheoryRun, stem: str | Path) -> list[Path]:
    """The three panels side by side, saved as stem.png and stem.pdf."""
    fig = new_figure(figsize=(11, 3.4), layout="constrained")
    axes = fig.subplots(1, 3)
    draw_frontiers(run, axes[0])
    draw_counts(run, axes[1])
    draw_polarization(run, axes[2])
    params = run.config["params"]
    fig.suptitle(
        f"allocation model {params['closure']}: beta={params['beta']:g}, tau={params['tau']:g}, "
        f"B={params['benefit']['family']}({params['benefit']['shape']:g})"
    )
    return save_figure(fig, stem)
