"""Fig. 5: the allocation model's regimes over N, with the frontiers r_1 <= r_tau <= r_0 and
the represented set |A(N)|, and the Rosetta count R(N) = r_tau(N) with its fraction R/N; one
row per TheoryRun (drawn by theory.plot.draw_frontiers and draw_counts)."""

from __future__ import annotations

from paper_figs.figure import Figure, figure_main
from paper_figs.needs import Need
from paper_figs.style import panel_grid
from theory.plot import draw_counts, draw_frontiers
from theory.sweep import TheoryRun

REQUIRES = (Need(TheoryRun, stage="theory"),)
PRODUCED_BY = "python -m theory.simulate --beta 1.5 --out RUNS"


def run_label(run: TheoryRun) -> str:
    """beta, tau, closure and benefit of a run, as a panel title."""
    p = run.config["params"]
    return (rf"$\beta={p['beta']:g}$, $\tau={p['tau']:g}$, closure {p['closure']}, "
            f"B={p['benefit']['family']}({p['benefit']['shape']:g})")


def draw(records, fig) -> None:
    """Regimes and counts of each allocation run, one row per run ordered by closure, beta
    and tau."""
    (runs,) = records
    params = [found.record.config["params"] for found in runs]
    order = sorted(range(len(runs)),
                   key=lambda i: (params[i]["closure"], params[i]["beta"], params[i]["tau"]))
    axes = panel_grid(fig, 2 * len(runs), max_columns=2)
    for row, i in enumerate(order):
        run = runs[i].record
        draw_frontiers(run, axes[2 * row])
        draw_counts(run, axes[2 * row + 1])
        axes[2 * row].set_title(run_label(run))


FIGURES = (Figure("fig05_frontiers", "Fig. 5, allocation regimes and frontiers", REQUIRES,
                  PRODUCED_BY, draw),)


def main(argv: list[str] | None = None):
    return figure_main(FIGURES, argv, prog="python -m paper_figs.fig05_frontiers")


if __name__ == "__main__":
    main()
