"""python -m paper_figs [--records runs/] [--out figures/]: build every figure whose records
exist, and list the skipped ones with the command that produces their records."""

from __future__ import annotations

from paper_figs.figure import BuildReport, figure_main
from paper_figs.registry import all_figures, planned_reasons


def main(argv: list[str] | None = None) -> BuildReport:
    return figure_main(all_figures(), argv, prog="python -m paper_figs",
                       planned=planned_reasons())


if __name__ == "__main__":
    main()
