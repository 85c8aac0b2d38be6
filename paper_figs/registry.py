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
    "paper_figs.fig06_polarization",
    "paper_figs.fig07_specialization",
    "paper_figs.fig25_topk",
    "paper_figs.fig31_depth",
    "paper_figs.fig33_stability",
    "paper_figs.fig36_judges",
    "paper_figs.fig38_dinov3",
)

PLANNED: dict[str, str] = {}


def all_figures() -> list:
    """The figures of every module in MODULES, in that order."""
    return [figure for name in MODULES for figure in importlib.import_module(name).FIGURES]


def planned_reasons() -> dict[str, str]:
    """PLANNED as skip reasons."""
    return {name: f"{what}: module not written yet (its analysis records have no command yet)"
            for name, what in PLANNED.items()}
