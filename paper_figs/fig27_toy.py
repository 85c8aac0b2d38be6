"""Fig. 27: trained toy superposition nets: Rosetta count, isolation of Rosetta and of
non-Rosetta neurons against width, next to the allocation model's count (one row per toy
sweep; drawn by theory.plot.draw_toy_sweep, the same drawing `theory.simulate` saves)."""

from __future__ import annotations

from empirics.records.toy import ToySweep
from paper_figs.figure import Figure, figure_main
from paper_figs.needs import MissingRecords, Need
from paper_figs.style import PANEL
from theory.plot import draw_toy_sweep, toy_sweep_title
from theory.sweep import TheoryRun

#: The toy sweep, and the allocation model at its widths, saved in its "prediction" folder.
REQUIRES = (Need(ToySweep, stage="empirics"), Need(TheoryRun, stage="empirics"))
PRODUCED_BY = "python -m theory.simulate --beta 1.5 --out RUNS"


def pair_predictions(sweeps, predictions) -> list[tuple]:
    """(sweep, prediction) for every sweep whose run directory holds its prediction."""
    by_parent = {found.path.parent: found.record for found in predictions
                 if found.path.name == "prediction"}
    return [(found.record, by_parent[found.path]) for found in sweeps
            if found.path in by_parent]


def draw(records, fig) -> None:
    """One row of three panels per toy sweep, ordered by beta and threshold rho*."""
    pairs = pair_predictions(*records)
    if not pairs:
        raise MissingRecords("no toy sweep with its allocation-model prediction "
                             "(<toy run>/prediction)")
    pairs.sort(key=lambda pair: (pair[0].config["toy"]["beta"], pair[0].config["rho_star"]))
    fig.set_size_inches(3 * PANEL[0], len(pairs) * PANEL[1])
    rows = fig.subfigures(len(pairs), 1, squeeze=False).ravel()
    for row, (sweep, predicted) in zip(rows, pairs):
        draw_toy_sweep(sweep, predicted, row.subplots(1, 3))
        row.suptitle(toy_sweep_title(sweep))


FIGURES = (Figure("fig27_toy", "Fig. 27, toy superposition nets", REQUIRES, PRODUCED_BY, draw),)


def main(argv: list[str] | None = None):
    return figure_main(FIGURES, argv, prog="python -m paper_figs.fig27_toy")


if __name__ == "__main__":
    main()
