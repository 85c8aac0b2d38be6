"""Figs. 33-35: stability under the input budget. Rosetta count of each pair against the
inputs it was measured on, and the Jaccard overlap of its pair set with the previous
budget's; one row per family. Image pairs (Fig. 34: generator x OpenCLIP as the images
approach 50,000) are drawn against their images, text pairs against their tokens.

Drawn from the StabilityRecords of `python -m empirics.analyze` (pairs matched on growing
inputs: `empirics.match --docs` / `--images` at several budgets), with the number of images
read from the matches' records; records of the "graph" approximation are drawn dashed.
"""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import NullLocator

from bridge.plot import wrapped
from empirics.records.analysis import StabilityRecord
from paper_figs.analysis import by_family, match_config, size_colours, size_label
from paper_figs.figure import Figure, figure_main
from paper_figs.needs import Need
from paper_figs.style import panel_grid

REQUIRES = (Need(StabilityRecord, stage="analysis"),)
PRODUCED_BY = ("python -m empirics.match --family FAMILY --pair A B --docs D (or --images I) "
               "--out RUNS for several D, then python -m empirics.analyze --runs RUNS "
               "--analyses stability")


def images_matched(found) -> np.ndarray | None:
    """The images of each budget of a stability record (`Found`), read from its matches'
    records; None unless every match is found and is an image pair."""
    images = []
    for source in found.record.sources:
        config = match_config(found, source)
        capture = config.get("capture", {}) if isinstance(config, dict) else {}
        if capture.get("kind") != "image" or "n_inputs" not in capture:
            return None
        images.append(float(capture["n_inputs"]))
    return np.array(images) if len(images) == len(found.record.n_tokens) else None


def draw(records, fig) -> None:
    budgets_of = {id(item.record): images_matched(item) for item in records[0]}
    families = by_family(records[0], split_inputs=False)
    axes = panel_grid(fig, 2 * len(families), max_columns=2)
    for row, (family, found) in enumerate(families.items()):
        ax_count, ax_overlap = axes[2 * row], axes[2 * row + 1]
        images = all(budgets_of[id(record)] is not None for record in found)
        unit = "images" if images else "samples"
        budgets = []
        for record, colour in zip(found, size_colours(len(found))):
            x = budgets_of[id(record)] if images else record.n_tokens
            budgets.append(x)
            style = "o--" if record.method == "graph" else "o-"
            label = f"{record.model_a} x {record.model_b}"
            ax_count.plot(x, record.counts, style, color=colour, label=label)
            later = np.isfinite(record.jaccard)
            ax_overlap.plot(x[later], record.jaccard[later], style, color=colour, label=label)
        ax_count.set(xscale="log", xlabel=f"{unit} matched on", ylabel="Rosetta count",
                     title=wrapped(f"{family}: count", 40))
        ax_overlap.set(xscale="log", xlabel=f"{unit} matched on", ylim=(0, 1.05),
                       ylabel="Jaccard with previous budget",
                       title=wrapped(f"{family}: overlap", 40))
        ticks = np.unique(np.concatenate(budgets))
        span = (ticks[0] / 1.2, ticks[-1] * 1.2)
        for ax in (ax_count, ax_overlap):  # ticks at the budgets: log ticks miss short spans
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xticks(ticks, [size_label(b) for b in ticks])
            ax.set_xlim(*span)  # both panels over all budgets (the overlap has no first)
        ax_count.legend(loc="best", fontsize="x-small")


FIGURES = (Figure("fig33_stability", "Figs. 33-35, stability under the input budget",
                  REQUIRES, PRODUCED_BY, draw),)


def main(argv: list[str] | None = None):
    return figure_main(FIGURES, argv, prog="python -m paper_figs.fig33_stability")


if __name__ == "__main__":
    main()
