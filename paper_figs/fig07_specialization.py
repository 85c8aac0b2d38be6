"""Fig. 7: domain specialization. For each input category, the mean enrichment of the category
among the top-activating samples of Rosetta neurons (1.0 = the category's share of the
corpus), one bar per model size with its bootstrap interval, and the size-matched non-Rosetta
control as grey markers; one panel per family.

Drawn from the SpecializationRecords of `python -m empirics.analyze` (pooled over both
models of each pair); pairs are ordered by the geometric mean of their parameter counts.
"""

from __future__ import annotations

import numpy as np

from bridge.plot import wrapped
from empirics.records.analysis import SpecializationRecord
from paper_figs.analysis import by_family, pair_size, size_colours, size_label
from paper_figs.figure import Figure, figure_main
from paper_figs.needs import Need
from paper_figs.style import COLOURS, outside_legend, panel_grid

REQUIRES = (Need(SpecializationRecord, stage="match"),)
PRODUCED_BY = ("python -m empirics.analyze --runs RUNS --analyses specialization (on match runs "
               "of python -m empirics.match --family FAMILY --all --out RUNS)")
WIDTH = 0.8


def summary_array(record, population: str, categories) -> np.ndarray:
    """(C, 3) mean / low / high of each category (NaN where the record lacks it)."""
    found = record.summary.get(population, {})
    return np.array([found.get(c, [np.nan] * 3) for c in categories], dtype=np.float64)


def draw_family(ax, records) -> None:
    categories = sorted({c for r in records for c in r.categories})
    x = np.arange(len(categories))
    step = WIDTH / len(records)
    for i, (record, colour) in enumerate(zip(records, size_colours(len(records)))):
        offset = x - WIDTH / 2 + (i + 0.5) * step
        rosetta = summary_array(record, "rosetta", categories)
        control = summary_array(record, "control", categories)
        bars = np.nan_to_num(np.abs(rosetta[:, 1:].T - rosetta[:, 0]))
        ax.bar(offset, rosetta[:, 0], step, yerr=bars, color=colour, capsize=1.5,
               error_kw={"lw": 0.6}, label=f"Rosetta, N = {size_label(pair_size(record))}")
        ax.plot(offset, control[:, 0], "_", color=COLOURS["null"], ms=6, mew=1.5,
                label="non-Rosetta control" if i == 0 else None)
    ax.axhline(1.0, color=COLOURS["theory"], lw=0.8, ls="--", label="corpus frequency")
    ax.set_xticks(x, categories, rotation=30, ha="right")  # beside a legend they crowd


def draw(records, fig) -> None:
    families = by_family(records[0])
    for ax, (family, found) in zip(panel_grid(fig, len(families), max_columns=2),
                                   families.items()):
        draw_family(ax, found)
        ax.set(xlabel="input category", title=wrapped(family, 40),
               ylabel="enrichment of top samples\n(1 = corpus share)")
        outside_legend(ax)


FIGURES = (Figure("fig07_specialization", "Fig. 7, domain specialization of Rosetta neurons",
                  REQUIRES, PRODUCED_BY, draw),)


def main(argv: list[str] | None = None):
    return figure_main(FIGURES, argv, prog="python -m paper_figs.fig07_specialization")


if __name__ == "__main__":
    main()
