"""Fig. 6: polarization. Mean selectivity of Rosetta neurons and of a size-matched non-Rosetta
control against model size, with their intervals and the fitted trends against log N (slope
and t interval in the legend); one panel per family and metric.

Drawn from the `Polarization` records `bridge.compare` writes (from SelectivityRecords of
`python -m empirics.analyze`, or, for the toy family, the ToySweep's isolation); the trend
line is the stored OLS slope through the centroid of the points it was fitted to, which is
where an OLS line passes: nothing is refitted.
"""

from __future__ import annotations

import numpy as np

from bridge.plot import wrapped
from bridge.trends import POPULATIONS, Polarization
from paper_figs.figure import Figure, figure_main
from paper_figs.needs import Need
from paper_figs.style import COLOURS, panel_grid

REQUIRES = (Need(Polarization, stage="compare"),)
PRODUCED_BY = ("python -m empirics.analyze --runs RUNS --family FAMILY, then python -m "
               "bridge.compare --family FAMILY --records RUNS (the toy family: python -m "
               "bridge.compare --family toy --beta 1.5 --records RUNS)")
STYLE = {"rosetta": (COLOURS["rosetta"], "o", "Rosetta"),
         "control": (COLOURS["non_rosetta"], "s", "non-Rosetta (size-matched)")}
#: The x axis by the record's unit of N (`Polarization.size`); a toy sweep's N is its width.
X_LABELS = {"neurons": "MLP neurons N (geometric mean of the pair)",
            "params": "parameters N (geometric mean of the pair)",
            None: "N (unit not recorded: neurons or parameters)"}
TOY_LABEL = "width N (neurons)"


def series_title(result: Polarization) -> str:
    """The family and the records `bridge.compare` selected for it (--select)."""
    select = result.config.get("select") or []
    return result.family + (f" [{', '.join(select)}]" if select else "")


def x_label(result: Polarization) -> str:
    """The size axis the record was fitted on (records made before it was kept: unknown)."""
    return TOY_LABEL if result.source == "toy-isolation" else X_LABELS[result.size]


def difference_text(result: Polarization, metric: str) -> str:
    """The stored test of the slope difference (Rosetta minus control) with its Holm-adjusted
    p-value, as the title states it ("" for records made before the test)."""
    difference = result.differences.get(metric)
    if not difference:
        return ""
    return (f"; slope difference {difference['difference']:+.3g} "
            f"[{difference['low']:+.3g}, {difference['high']:+.3g}], Holm p = "
            f"{difference['p_holm']:.2g}")


def latest(found) -> list[Polarization]:
    """The newest Polarization of each (family, selection, source, unit of N): records on
    the two size axes are drawn apart, neither hides the other."""
    best = {}
    for item in sorted(found, key=lambda item: item.header.get("created", "")):
        record = item.record
        best[(series_title(record), record.source, record.size or "")] = record
    return [best[key] for key in sorted(best)]


def panels(results) -> list[tuple[Polarization, str]]:
    return [(result, metric) for result in results for metric in sorted(result.trends)]


def slope_text(value: float, trend: dict) -> str:
    """A slope to 3 significant digits, rounding-level values (1e-9 of the trend's largest
    bound) shown as 0."""
    scale = max(abs(trend["low"]), abs(trend["high"]), 1e-300)
    return f"{0.0 if abs(value) < 1e-9 * scale or abs(value) < 1e-12 else value:+.3g}"


def draw_population(ax, sizes, values, trend, population, source: str) -> None:
    """Means with interval bars and the trend line over the sizes it was fitted to."""
    colour, marker, label = STYLE[population]
    if source == "toy-isolation" and population == "control":
        label = "non-Rosetta (all alive)"
    keep = np.isfinite(values[:, 0])
    x, y = sizes[keep], values[keep, 0]
    bars = np.abs(values[keep, 1:].T - y)
    ax.errorbar(x, y, yerr=np.where(np.isfinite(bars), bars, 0), fmt=marker, color=colour,
                capsize=2, label=label)
    if trend:
        logs = np.log(x)
        line = y.mean() + trend["slope"] * (logs - logs.mean())
        slope, low, high = (slope_text(trend[k], trend) for k in ("slope", "low", "high"))
        ax.plot(x, line, "-", color=colour, lw=1, label=f"slope {slope} [{low}, {high}]")


def draw(records, fig) -> None:
    chosen = panels(latest(records[0]))
    for ax, (result, metric) in zip(panel_grid(fig, len(chosen)), chosen):
        for population in POPULATIONS:
            values = result.points.get(f"{metric}/{population}")
            if values is not None:
                draw_population(ax, result.sizes, values,
                                result.trends[metric].get(population), population,
                                result.source)
        ax.set_xscale("log")
        ax.set(xlabel=x_label(result), ylabel=f"mean {metric.replace('_', ' ')}")
        ax.set_title(wrapped(f"{series_title(result)}: {metric.replace('_', ' ')}"
                             + difference_text(result, metric), 44), fontsize="small")
        ax.legend(loc="best", fontsize="x-small")


FIGURES = (Figure("fig06_polarization", "Fig. 6, polarization of selectivity with scale",
                  REQUIRES, PRODUCED_BY, draw),)


def main(argv: list[str] | None = None):
    return figure_main(FIGURES, argv, prog="python -m paper_figs.fig06_polarization")


if __name__ == "__main__":
    main()
