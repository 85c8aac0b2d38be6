"""Fig. 38: the DINOv3 exception. The generator x DINOv3 counts against model size beside the
other generated families' (pMF x OpenCLIP, pMF x DINOv2), each with its own power-law fit,
log-log; and on a second panel each family's log residuals about its own fit, where a
family that does not follow a power law shows as a bend instead of scatter about zero.

Drawn from the raw-count `Comparison` records of `bridge.compare`, one per generated family
(the newest with N in parameters, as Fig. 3 picks them): every family is fitted on its own
and nothing is pooled or refitted here; the curvature test of a family with four sizes or
more (`bridge.diagnostics.check_curvature`) is quoted in its label.
"""

from __future__ import annotations

import math

import numpy as np

from bridge.comparison import Comparison, headline_interval
from bridge.plot import SIZE_LABELS
from paper_figs.figure import Figure, figure_main
from paper_figs.needs import MissingRecords, Need
from paper_figs.style import COLOURS, panel_grid

REQUIRES = (Need(Comparison, stage="compare"),)
PRODUCED_BY = ("python -m bridge.compare --family generated-dinov3 --size params --records "
               "RUNS, and the same for generated-openclip and generated-dinov2 (on match runs "
               "of python -m empirics.match --family generated-dinov3 --all --out RUNS, and "
               "the same for the other towers)")
#: The exception, and the family prefix of the series drawn beside it.
EXCEPTION, GENERATED = "generated-dinov3", "generated-"
#: Colours of the other families (the exception is drawn in the Rosetta colour).
OTHERS = ("#4c72b0", "#55a868", "#8172b2", "#937860")


def generated_series(found) -> dict[str, Comparison]:
    """{family: its raw-count Comparison} of every generated family: the newest with N in
    parameters, else the newest; only those with the same N as the exception's."""
    best = {}
    for item in found:
        record = item.record
        if not record.family.startswith(GENERATED) or "calibrated" in record.config:
            continue
        rank = (record.config.get("size") == "params", item.header.get("created", ""))
        if record.family not in best or rank > best[record.family][0]:
            best[record.family] = (rank, record)
    if EXCEPTION not in best:
        raise MissingRecords(f"no Comparison of the {EXCEPTION} family")
    if len(best) < 2:
        raise MissingRecords(f"no Comparison of another generated family to draw "
                             f"{EXCEPTION} beside")
    size = best[EXCEPTION][1].config.get("size", "neurons")
    chosen = {family: record for family, (_, record) in best.items()
              if record.config.get("size", "neurons") == size}
    return dict(sorted(chosen.items(), key=lambda item: (item[0] == EXCEPTION, item[0])))


def series_text(comparison: Comparison) -> str:
    """"generated-openclip: alpha 0.61 [0.55, 0.67]" (the headline interval), with the
    curvature test's p where the record holds one."""
    ci = comparison.intervals[headline_interval(comparison)]
    text = f"{comparison.family}: alpha {ci['estimate']:.2f} [{ci['low']:.2f}, {ci['high']:.2f}]"
    p_value = comparison.diagnostics.get("curvature", {}).get("p_value")
    if p_value is not None and math.isfinite(p_value):
        text += f", curvature p {p_value:.2g}"
    return text


def draw(records, fig) -> None:
    series = generated_series(records[0])
    ax_count, ax_residual = panel_grid(fig, 2, max_columns=2)
    others = iter(OTHERS)
    for family, comparison in series.items():
        colour = COLOURS["rosetta"] if family == EXCEPTION else next(others)
        marker = "s" if family == EXCEPTION else "o"
        n, count = comparison.sizes, comparison.counts
        fit = comparison.fits["ols-log"]
        grid = np.geomspace(n.min(), n.max(), 100)
        ax_count.plot(n, count, marker, color=colour, label=series_text(comparison))
        if math.isfinite(fit["alpha"]):
            ax_count.plot(grid, fit["prefactor"] * grid ** fit["alpha"], "-", color=colour,
                          lw=1.0)
        ax_residual.plot(n, comparison.residuals, f"{marker}-", color=colour,
                         label=family)
    size_label, _ = SIZE_LABELS[next(iter(series.values())).config.get("size", "neurons")]
    ax_count.set(xscale="log", yscale="log", xlabel=size_label, ylabel="Rosetta count R(N)",
                 title="each family's power-law fit")
    ax_count.legend(loc="upper left", fontsize="xx-small")
    ax_residual.axhline(0.0, color=COLOURS["null"], lw=0.8)
    ax_residual.set(xscale="log", xlabel=size_label, ylabel="log residual about its fit",
                    title="departure from the power law")
    ax_residual.legend(loc="best", fontsize="x-small")


FIGURES = (Figure("fig38_dinov3", "Fig. 38, DINOv3 against the other generated families",
                  REQUIRES, PRODUCED_BY, draw),)


def main(argv: list[str] | None = None):
    return figure_main(FIGURES, argv, prog="python -m paper_figs.fig38_dinov3")


if __name__ == "__main__":
    main()
