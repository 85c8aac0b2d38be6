"""Fig. 27: trained toy superposition nets: Rosetta count, isolation of Rosetta and of
non-Rosetta neurons against width, next to the allocation model's count (one row per toy
sweep; drawn by theory.toy.plot.draw_toy_sweep, the drawing `theory.simulate` saves)."""

from __future__ import annotations

from empirics.records.toy import ToyStudy, ToySweep
from paper_figs.figure import Figure, figure_main
from paper_figs.needs import MissingRecords, Need
from paper_figs.style import PANEL
from theory.sweep import TheoryRun
from theory.toy.plot import (
    draw_exponents_by_beta,
    draw_pool_scan,
    draw_toy_sweep,
    toy_sweep_title,
)

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
    pairs.sort(key=lambda pair: (pair[0].config["toy"].get("rent", 0.0) > 0,
                                 pair[0].config["toy"]["beta"],
                                 pair[0].config["toy"]["n_features"],
                                 pair[0].config["toy"]["steps"], pair[0].config["rho_star"]))
    fig.set_size_inches(3 * PANEL[0], len(pairs) * PANEL[1])
    rows = fig.subfigures(len(pairs), 1, squeeze=False).ravel()
    for row, (sweep, predicted) in zip(rows, pairs):
        draw_toy_sweep(sweep, predicted, row.subplots(1, 3))
        row.suptitle(toy_sweep_title(sweep))


def draw_study(records, fig) -> None:
    """The toy study: exponents per arm against beta, and the pool scan."""
    (found,) = records
    if not found:
        raise MissingRecords("no toy study (python -m empirics.toy_study)")
    study = max(found, key=lambda f: len(f.record.rows)).record  # the fullest study
    design = study.config["study"]
    fig.set_size_inches(2 * PANEL[0], PANEL[1])
    axes = fig.subplots(1, 2)
    draw_exponents_by_beta(study.rows, axes[0], pool=design["pools"][0])
    draw_pool_scan(study.rows, axes[1], beta=design["scan_beta"])
    if len(study.rows) < study.n_cells:
        fig.suptitle(f"partial study: {len(study.rows)} of {study.n_cells} cells")


FIGURES = (Figure("fig27_toy", "Fig. 27, toy superposition nets", REQUIRES, PRODUCED_BY, draw),
           Figure("fig27_toy_study", "Toy study: exponents per arm, beta and feature pool",
                  (Need(ToyStudy, stage="empirics"),), "python -m empirics.toy_study --out RUNS",
                  draw_study))


def main(argv: list[str] | None = None):
    return figure_main(FIGURES, argv, prog="python -m paper_figs.fig27_toy")


if __name__ == "__main__":
    main()
