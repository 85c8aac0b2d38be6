"""Figs. 31-32: where Rosetta neurons sit. Share of each model's Rosetta neurons per
normalized-depth bin (layer centres (l + 1/2) / L), one line per model, coloured by size;
one panel per family and side of the pair (e.g. Pythia and OPT for language).

Drawn from the DepthRecords of `python -m empirics.analyze`.
"""

from __future__ import annotations

import numpy as np

from bridge.plot import wrapped
from empirics.records.analysis import DepthRecord
from paper_figs.analysis import by_family, size_colours
from paper_figs.figure import Figure, figure_main
from paper_figs.needs import Need
from paper_figs.style import outside_legend, panel_grid

REQUIRES = (Need(DepthRecord, stage="match"),)
PRODUCED_BY = ("python -m empirics.analyze --runs RUNS --analyses depth (on match runs of "
               "python -m empirics.match --family FAMILY --all --out RUNS)")


def models(records, side: str) -> list[tuple[str, float, np.ndarray]]:
    """(model name, parameters, share) of one side's models, smallest first, each once."""
    found = {}
    for record in records:
        name = getattr(record, f"model_{side}")
        found[name] = (name, getattr(record, f"size_{side}"), getattr(record, f"share_{side}"))
    return sorted(found.values(), key=lambda item: item[1])


def draw(records, fig) -> None:
    families = by_family(records[0])
    chosen = [(family, side, found) for family, found in families.items() for side in "ab"]
    for ax, (family, side, found) in zip(panel_grid(fig, len(chosen), max_columns=2), chosen):
        edges = found[0].edges
        centres = (edges[:-1] + edges[1:]) / 2
        lines = models(found, side)
        for (name, _, share), colour in zip(lines, size_colours(len(lines))):
            ax.plot(centres, share, "o-", color=colour, label=name)
        ax.set(xlabel="normalized depth (layer centre / layers)", xlim=(0, 1),
               ylabel="share of the model's Rosetta neurons",
               title=wrapped(f"{family}: model {side.upper()}", 40))
        ax.set_ylim(bottom=0)
        outside_legend(ax)


FIGURES = (Figure("fig31_depth", "Figs. 31-32, depth profile of Rosetta neurons", REQUIRES,
                  PRODUCED_BY, draw),)


def main(argv: list[str] | None = None):
    return figure_main(FIGURES, argv, prog="python -m paper_figs.fig31_depth")


if __name__ == "__main__":
    main()
