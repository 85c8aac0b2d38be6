"""Which modules make the paper's figures. Adding a figure module is one line in MODULES.

Each module listed defines `FIGURES` (a tuple of `paper_figs.figure.Figure`). PLANNED names
figures whose module is not written yet, because the analysis records they draw from do not
exist yet; `python -m paper_figs` lists them as skipped. Move a name from PLANNED to MODULES
when its module lands.
"""

from __future__ import annotations

import importlib

MODULES = (
    "paper_figs.fig03_counts",
    "paper_figs.fig04_nulls",
    "paper_figs.fig05_frontiers",
    "paper_figs.fig27_toy",
)

PLANNED = {
    "fig06_polarization": "Fig. 6, polarization",
    "fig07_specialization": "Fig. 7, specialization",
    "fig25_topk": "Fig. 25, top-k robustness",
    "fig31_depth": "Fig. 31, depth",
    "fig33_stability": "Fig. 33, stability",
}


def all_figures() -> list:
    """The figures of every module in MODULES, in that order."""
    return [figure for name in MODULES for figure in importlib.import_module(name).FIGURES]


def planned_reasons() -> dict[str, str]:
    """PLANNED as skip reasons."""
    return {name: f"{what}: module not written yet (its analysis records have no command yet)"
            for name, what in PLANNED.items()}
