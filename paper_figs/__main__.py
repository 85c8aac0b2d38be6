"""python -m paper_figs [--records runs/] [--out figures/]: build every figure whose records
exist, and list the skipped ones with the command that produces their records."""

from __future__ import annotations

import argparse

from paper_figs.figure import BuildReport, figure_main
from paper_figs.figure import build_parser as figure_parser
from paper_figs.registry import all_figures, planned_reasons


def build_parser() -> argparse.ArgumentParser:
    return figure_parser("python -m paper_figs", __doc__)


def main(argv: list[str] | None = None) -> BuildReport:
    return figure_main(all_figures(), argv, planned=planned_reasons(), parser=build_parser())


if __name__ == "__main__":
    main()
