"""Fig. 3: Rosetta counts against model size per family, log-log, with the OLS power-law fit,
its t band and (when the records kept per-chunk sums) the data-level bootstrap band and
per-size error bars, the theory's exponent when one was given, and R/N on a second panel; one
row per series (family, records selected, raw or calibrated against the permutation null).

Drawn from the `Comparison` records of `bridge.compare` (which groups a family's pairs by
the geometric mean of the two models' sizes and computes every fit and interval), by
`bridge.plot.draw_comparison`; nothing is refitted here.
"""

from __future__ import annotations

from bridge.comparison import Comparison, headline_interval
from bridge.plot import SIZE_LABELS, draw_comparison, exactness_note, series_label, wrapped
from paper_figs.figure import Figure, figure_main
from paper_figs.needs import Need
from paper_figs.style import COLOURS, panel_grid

REQUIRES = (Need(Comparison, stage="compare"),)
PRODUCED_BY = ("python -m bridge.compare --family FAMILY --size params --beta 1.5 --records "
               "RUNS, for each family with MatchRecords (python -m empirics.match --family "
               "FAMILY --all --out RUNS; the toy family: python -m theory.simulate --beta 1.5 "
               "--out RUNS)")
#: Data-level intervals of bridge.bootstrap, in order of preference.
DATA_LEVEL = ("data-replicates", "data-parametric")


def latest_per_family(found) -> list:
    """One Comparison per series (family, selection, raw or calibrated counts): the newest
    with N in parameters, else the newest."""
    best = {}
    for item in found:
        rank = (item.record.config.get("size") == "params", item.header.get("created", ""))
        key = series_label(item.record)
        if key not in best or rank > best[key][0]:
            best[key] = (rank, item.record)
    return [best[key][1] for key in sorted(best)]


def draw(records, fig) -> None:
    """Per family one row: counts with fit and bands, and the fraction R/N."""
    comparisons = latest_per_family(records[0])
    axes = panel_grid(fig, 2 * len(comparisons), max_columns=2)
    for row, comparison in enumerate(comparisons):
        ax_count, ax_fraction = axes[2 * row], axes[2 * row + 1]
        bands = (headline_interval(comparison),
                 *(k for k in DATA_LEVEL if k in comparison.intervals))
        size_label, fraction_label = SIZE_LABELS[comparison.config.get("size", "neurons")]
        draw_comparison(comparison, ax_count, ax_fraction, xlabel=size_label,
                        bands=bands[:2], colour=COLOURS["rosetta"],
                        fit_colour=COLOURS["rosetta"], theory_colour=COLOURS["theory"])
        ax_count.legend(loc="upper left")
        note = exactness_note(comparison)
        title = series_label(comparison) + (f" ({note})" if note else "")
        ax_count.set_title(wrapped(title), fontsize="small")
        ax_fraction.set(ylabel=fraction_label)


FIGURES = (Figure("fig03_counts", "Fig. 3, Rosetta counts against model size", REQUIRES,
                  PRODUCED_BY, draw),)


def main(argv: list[str] | None = None):
    return figure_main(FIGURES, argv, prog="python -m paper_figs.fig03_counts")


if __name__ == "__main__":
    main()
