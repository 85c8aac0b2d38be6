"""Figs. 33-35: stability under the input budget. Rosetta count of each pair against the
tokens (or image positions) it was measured on, and the Jaccard overlap of its pair set with
the previous budget's; one row per family.

Drawn from the StabilityRecords of `python -m empirics.analyze` (pairs matched on growing
inputs: `empirics.match --docs` / `--images` at several budgets); records of the "graph"
approximation are drawn dashed.
"""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import NullLocator

from empirics.records.analysis import StabilityRecord
from paper_figs.analysis import by_family, size_colours, size_label
from paper_figs.figure import Figure, figure_main
from paper_figs.needs import Need
from paper_figs.style import panel_grid

REQUIRES = (Need(StabilityRecord, stage="analysis"),)
PRODUCED_BY = ("python -m empirics.match --family FAMILY --pair A B --docs D --out RUNS for "
               "several D, then python -m empirics.analyze --runs RUNS --analyses stability")


def draw(records, fig) -> None:
    families = by_family(records[0])
    axes = panel_grid(fig, 2 * len(families), max_columns=2)
    for row, (family, found) in enumerate(families.items()):
        ax_count, ax_overlap = axes[2 * row], axes[2 * row + 1]
        for record, colour in zip(found, size_colours(len(found))):
            style = "o--" if record.method == "graph" else "o-"
            label = f"{record.model_a} x {record.model_b}"
            ax_count.plot(record.n_tokens, record.counts, style, color=colour, label=label)
            later = np.isfinite(record.jaccard)
            ax_overlap.plot(record.n_tokens[later], record.jaccard[later], style,
                            color=colour, label=label)
        ax_count.set(xscale="log", xlabel="samples matched on", ylabel="Rosetta count",
                     title=f"{family}: count")
        ax_overlap.set(xscale="log", xlabel="samples matched on", ylim=(0, 1.05),
                       ylabel="Jaccard with previous budget", title=f"{family}: overlap")
        budgets = np.unique(np.concatenate([record.n_tokens for record in found]))
        for ax in (ax_count, ax_overlap):  # ticks at the budgets: log ticks miss short spans
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xticks(budgets, [size_label(b) for b in budgets])
        ax_count.legend(loc="best", fontsize="x-small")


FIGURES = (Figure("fig33_stability", "Figs. 33-35, stability under the input budget",
                  REQUIRES, PRODUCED_BY, draw),)


def main(argv: list[str] | None = None):
    return figure_main(FIGURES, argv, prog="python -m paper_figs.fig33_stability")


if __name__ == "__main__":
    main()
