"""Log-log plot of a family's Rosetta counts with the fitted power law and its band."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bridge.records import Comparison


def plot_comparison(comparison: Comparison, stem: str | Path) -> list[Path]:
    """Counts (with per-size error bars when present), the OLS fit and its exponent band,
    and R/N on a second panel; saved as PNG and PDF."""
    from theory.plot import apply_style, plt, save_figure

    apply_style()
    fit = comparison.fits["ols-log"]
    n, count = comparison.sizes, comparison.counts
    grid = np.geomspace(n.min(), n.max(), 100)
    pivot = np.exp(np.mean(np.log(n)))
    centre = fit["prefactor"] * pivot ** fit["alpha"]
    fig, (ax_count, ax_fraction) = plt.subplots(1, 2, figsize=(9, 3.6))
    bars = comparison.error_bars
    yerr = None if not bars else np.vstack([count - bars["low"], bars["high"] - count])
    ax_count.errorbar(n, count, yerr=yerr, fmt="o", color="C0", label="measured R(N)")
    ax_count.plot(grid, fit["prefactor"] * grid ** fit["alpha"], color="C1",
                  label=f"fit alpha = {fit['alpha']:.3f}")
    ax_count.fill_between(grid, centre * (grid / pivot) ** fit["low"],
                          centre * (grid / pivot) ** fit["high"], color="C1", alpha=0.2,
                          label=f"{fit['level']:.0%} exponent band")
    ax_count.set(xscale="log", yscale="log", xlabel="N", ylabel="Rosetta count R(N)",
                 title=comparison.family)
    ax_count.legend(fontsize=8)
    ax_fraction.plot(n, count / n, "o-", color="C0")
    ax_fraction.set(xscale="log", yscale="log", xlabel="N", ylabel="R(N) / N")
    fig.tight_layout()
    paths = save_figure(fig, stem)
    plt.close(fig)
    return paths
