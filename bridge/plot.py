"""Log-log plot of a family's Rosetta counts with the fitted power law and its band."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np

from bridge.calibration import calibration_text
from bridge.comparison import Comparison, headline_interval
from runstore.figures import ROSETTA_COLOUR, STYLE

#: Axis labels by the Comparison's unit of N: size and fraction.
SIZE_LABELS = {"params": ("parameters N (geometric mean of the pair)",
                          "R(N) / N (per parameter)"),
               "neurons": ("MLP neurons N (geometric mean of the pair)", "fraction R(N) / N")}


#: The figures' style: the package's (`runstore.figures.STYLE`) with the markers of the
#: counts; `paper_figs.style` extends it. The scaling plot's size (two panels), inches, and
#: how long a title line may be.
FIGURE_RC = {**STYLE, "lines.markersize": 4}
FIGURE_INCHES = (7.2, 3.0)
TITLE_WIDTH = 56


def series_label(comparison: Comparison) -> str:
    """The family, the records selected and, for a calibrated count, the null it is
    calibrated against."""
    label = comparison.family
    if comparison.config.get("select"):
        label += " [" + ", ".join(comparison.config["select"]) + "]"
    if "calibrated" in comparison.config:
        label += " " + calibration_text(comparison.config["calibrated"])
    return label


def exactness_note(comparison: Comparison) -> str:
    """"" when the comparison's counts are all certified exact or it predates the record of
    it; else how many of its records' counts are not ("counts of 3 records not certified
    exact")."""
    not_exact = comparison.config.get("not_exact") or []
    return f"counts of {len(not_exact)} records not certified exact" if not_exact else ""


def draw_comparison(comparison: Comparison, ax_count, ax_fraction, *, xlabel: str = "N",
                    bands: tuple[str, ...] | None = None, colour: str = ROSETTA_COLOUR,
                    fit_colour: str = ROSETTA_COLOUR, theory_colour: str = "black") -> None:
    """Counts (with per-size error bars when present), the OLS fit and, for each interval
    named in `bands` (keys of `comparison.intervals`; default: the headline), its exponent
    band pivoting at the geometric mean of N, on `ax_count`, with the theory's exponent
    through the same pivot
    when the comparison holds a prediction; R/N on `ax_fraction`. Both log-log."""
    fit = comparison.fits["ols-log"]
    bands = (headline_interval(comparison),) if bands is None else bands
    n, count = comparison.sizes, comparison.counts
    grid = np.geomspace(n.min(), n.max(), 100)
    pivot = np.exp(np.mean(np.log(n)))
    centre = fit["prefactor"] * pivot ** fit["alpha"]
    bars = comparison.error_bars
    yerr = None if not bars else np.vstack([count - bars["low"], bars["high"] - count])
    ax_count.errorbar(n, count, yerr=yerr, fmt="o", color=colour, label="measured R(N)")
    if math.isfinite(fit["alpha"]):
        ax_count.plot(grid, fit["prefactor"] * grid ** fit["alpha"], color=fit_colour,
                      label=f"fit alpha = {fit['alpha']:.3f}")
    for i, key in enumerate(bands):
        ci = comparison.intervals[key]
        ax_count.fill_between(grid, centre * (grid / pivot) ** ci["low"],
                              centre * (grid / pivot) ** ci["high"], color=fit_colour,
                              alpha=0.2 + 0.15 * i, lw=0,
                              label=f"{ci['level']:.0%} band ({ci['method']})")
    alpha_pred = comparison.agreement.get("alpha_pred") if comparison.agreement else None
    if alpha_pred is not None and math.isfinite(alpha_pred):  # no line for no prediction
        ax_count.plot(grid, centre * (grid / pivot) ** alpha_pred, "--", color=theory_colour,
                      lw=0.8, label=f"theory alpha = {alpha_pred:.3f}")
    ax_count.set(xscale="log", yscale="log", xlabel=xlabel, ylabel="Rosetta count R(N)")
    ax_fraction.plot(n, count / n, "o-", color=colour)
    ax_fraction.set(xscale="log", yscale="log", xlabel=xlabel, ylabel="R(N) / N")


def wrapped(title: str, width: int = TITLE_WIDTH) -> str:
    """A panel title broken into lines of at most `width` characters (a series label can be
    longer than its panel)."""
    return textwrap.fill(title, width)


def comparison_figure(comparison: Comparison):
    """`draw_comparison` on two panels of a figure outside pyplot's state, in the figures'
    style (`runstore.figures.STYLE`, constrained layout)."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(FIGURE_RC):
        fig = Figure(figsize=FIGURE_INCHES, layout="constrained")
        ax_count, ax_fraction = fig.subplots(1, 2)
        size_label, fraction_label = SIZE_LABELS[comparison.config.get("size", "neurons")]
        draw_comparison(comparison, ax_count, ax_fraction, xlabel=size_label)
        ax_count.set_title(wrapped(series_label(comparison)), fontsize="small")
        ax_fraction.set(ylabel=fraction_label)
        ax_count.legend(fontsize="x-small")
    return fig


def plot_comparison(comparison: Comparison, stem: str | Path) -> list[Path]:
    """`comparison_figure` saved as PNG and PDF."""
    from runstore.figures import save_figure

    return save_figure(comparison_figure(comparison), stem, tight=False)
