"""Fig. 25: robustness to the matching criterion. Rosetta counts under mutual top-k for each k
against model size, log-log, one panel per family (k = 1 is mutual nearest neighbours).

Drawn from the TopKRecords of `python -m empirics.analyze` (counts recounted on each run's
candidate graph, exact for every k up to the candidates the run kept); the counts of the
pairs at one size are averaged.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from bridge.plot import wrapped
from empirics.records.analysis import TopKRecord
from paper_figs.analysis import by_family, pair_size, size_colours
from paper_figs.figure import Figure, figure_main
from paper_figs.needs import Need
from paper_figs.style import panel_grid

REQUIRES = (Need(TopKRecord, stage="match"),)
PRODUCED_BY = ("python -m empirics.analyze --runs RUNS --analyses topk --ks 1,2,5,10 (on match "
               "runs of python -m empirics.match --family FAMILY --all --candidates 10 "
               "--out RUNS)")
MARKERS = "osD^v<>"


def counts_by_k(records) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """{k: (sizes, mean count at each size)} over the records that counted that k."""
    found = defaultdict(lambda: defaultdict(list))
    for record in records:
        for k, count in zip(record.ks.tolist(), record.counts.tolist()):
            found[k][pair_size(record)].append(count)
    return {k: (np.array(sorted(per)), np.array([np.mean(per[s]) for s in sorted(per)]))
            for k, per in sorted(found.items())}


def draw(records, fig) -> None:
    families = by_family(records[0])
    for ax, (family, found) in zip(panel_grid(fig, len(families)), families.items()):
        curves = counts_by_k(found)
        for (k, (sizes, counts)), colour, marker in zip(curves.items(),
                                                        size_colours(len(curves)), MARKERS):
            positive = counts > 0
            ax.plot(sizes[positive], counts[positive], f"{marker}-", color=colour,
                    label=f"mutual top-{k}")
        ax.set(xscale="log", yscale="log", xlabel="parameters N (geometric mean of the pair)",
               ylabel="Rosetta count R(N)", title=wrapped(family, 40))
        ax.legend(loc="upper left", fontsize="x-small")


FIGURES = (Figure("fig25_topk", "Fig. 25, Rosetta counts under mutual top-k", REQUIRES,
                  PRODUCED_BY, draw),)


def main(argv: list[str] | None = None):
    return figure_main(FIGURES, argv, prog="python -m paper_figs.fig25_topk")


if __name__ == "__main__":
    main()
