"""python -m empirics.report RUN_DIR: write the neuron browser of a match or anchor run
(empirics.report.build).

    python -m empirics.report runs/match/pythia-70m--opt-125m-<hash> [--out report.html]
    python -m empirics.report runs/anchors/<anchor>-<hash>
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

from empirics.report.build import write_report
from runstore.commands import DATA_ERRORS, add_debug_flag, command_parser, reported
from runstore.options import add_flags, check_fields, flag, from_flags


@dataclasses.dataclass(frozen=True)
class ReportSettings:
    """Which run's page is written, where, and what it shows."""

    run_dir: Path = flag(help="a match or anchors run directory", name="run_dir", type=Path)
    out: Path | None = flag(None, "the page written (default: RUN_DIR/report.html)", type=Path)
    contrast: int = flag(20, "non-Rosetta neurons per model and layer shown for contrast",
                         at_least=0)
    images: int = flag(8, "top images shown per neuron", at_least=1)
    seed: int = flag(0, "seed of the contrast draw")

    def __post_init__(self):
        check_fields(self)


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m empirics.report", __doc__)
    add_flags(p, ReportSettings)
    add_debug_flag(p)
    return p


def main(argv: list[str] | None = None) -> Path:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        settings = from_flags(ReportSettings, args)
    except ValueError as error:
        parser.error(str(error))
    with reported(parser, debug=args.debug, data=(*DATA_ERRORS, ValueError)):
        path = write_report(settings.run_dir, settings.out, contrast=settings.contrast,
                            max_images=settings.images, seed=settings.seed)
    print(f"report: {path}")
    return path


if __name__ == "__main__":
    main()
