"""python -m empirics.toy_study: the toy study, arms x beta x feature pool x training length.

    python -m empirics.toy_study [--limit K] [--betas 1.5,2,3] [--pools 512,2048,4096,8192]

Runs (or reuses) one toy sweep per cell (`python -m empirics.toy` with the cell's flags) and
prints the table arm x beta x n x steps -> exponent of R_neurons and R_features [95% interval]
vs 1/beta vs the exponent predicted from the nets' internals, with failed nets, convergence
between the two lengths and runtimes; writes runs/empirics/toy-study-<hash>/ (a ToyStudy and
a figure). The default design takes about an hour on two CPU cores; `--limit K` runs its
first K cells (the short length of every arm and beta first).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path

from empirics.toy.study import StudyDesign, run_study
from empirics.toy.summary import format_study
from runstore.commands import add_debug_flag, command_parser, reported
from runstore.devices import resolve_device
from runstore.options import add_flags, check_fields, flag, from_flags
from theory.toy.flags import DEVICE_HELP, add_run_flags
from theory.toy.plot import plot_toy_study


@dataclasses.dataclass(frozen=True)
class StudyRun:
    """The command's flags besides the design's (`StudyDesign`) and --out, --no-plot."""

    seeds: int = flag(3, "seeds per width (>= 3)", at_least=3,
                      hint="failed nets are found among seeds")
    limit: int | None = flag(None, "run only the first K cells", type=int)
    saved_only: bool = flag(False, "train nothing: table the cells whose sweeps are already "
                            "saved")
    device: str = flag("auto", DEVICE_HELP)
    force: bool = flag(False, "rebuild the table (sweeps are reused)")

    def __post_init__(self) -> None:
        check_fields(self)


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m empirics.toy_study", __doc__)
    add_flags(p, StudyDesign)
    add_flags(p, StudyRun)
    add_run_flags(p)
    add_debug_flag(p)
    return p


def main(argv: list[str] | None = None) -> Path:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("empirics").setLevel(logging.INFO)
    try:
        run = from_flags(StudyRun, args)
        design = from_flags(StudyDesign, args, seeds=tuple(range(run.seeds)))
        device = resolve_device(run.device)
    except (TypeError, ValueError) as error:
        parser.error(str(error))
    with reported(parser, debug=args.debug):
        study, directory = run_study(design, out=args.out, device=device, force=run.force,
                                     progress=sys.stderr.isatty(), limit=run.limit,
                                     saved_only=run.saved_only)
    print(format_study(study))
    if not args.no_plot:
        paths = plot_toy_study(study.rows, directory / "toy_study", scan_beta=design.scan_beta)
        print("figure: " + ", ".join(str(p) for p in paths))
    print(f"study record: {directory}")
    return directory


if __name__ == "__main__":
    main()
