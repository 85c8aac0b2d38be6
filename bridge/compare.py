"""python -m bridge.compare --family NAME: does R(N) follow a power law, and does the theory's
exponent agree?

Reads the family's MatchRecords (from `python -m empirics.match`, or the toy sweep), fits
R = a N^alpha (as the headline, the OLS exponent with a t interval whose variance holds
counting noise and scatter between models, chosen by the coverage study of docs/coverage.md;
the plain OLS t, case bootstrap, quasi-Poisson and, when the records kept per-chunk sums, the
data-level interval from resampling the inputs as labelled checks), compares alpha with the
allocation model's prediction for --beta, fits the nulls the same way, fits the counts
calibrated against each pair's permutation null beside the raw ones (bridge.calibration),
prints a table, and writes Comparison records and log-log plots. Nothing is recomputed from
activations, and torch is not needed. The work is `bridge.family`, the text `bridge.report`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

from bridge.closures import beta_from_record
from bridge.family import compare_family
from bridge.report import format_family
from bridge.selection import parse_selector
from bridge.settings import CannotFit, CompareSettings, find_series
from runstore.commands import add_debug_flag, command_parser, reported
from runstore.options import add_flags, flag, from_flags


@dataclasses.dataclass(frozen=True)
class CompareFlags:
    """The command's flag that is not a `CompareSettings` field as it is."""

    no_calibration: bool = flag(False, "fit only the raw counts")


def build_parser() -> argparse.ArgumentParser:
    parser = command_parser("python -m bridge.compare", __doc__)
    add_flags(parser, CompareSettings)
    add_flags(parser, CompareFlags)
    add_debug_flag(parser)
    return parser


def settings_from_args(args: argparse.Namespace) -> CompareSettings:
    calibrated = not from_flags(CompareFlags, args).no_calibration
    return from_flags(CompareSettings, args,
                      null_quantile=args.null_quantile if calibrated else None)


def main(argv: list[str] | None = None) -> Path:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args)
        for text in settings.select:
            parse_selector(text)
    except ValueError as error:
        parser.error(str(error))
    with reported(parser, debug=args.debug):  # CannotFit, MixedSeries, damaged records
        for source in settings.beta_from:  # read before anything is written
            beta_from_record(source, settings.beta_estimate)
        skipped = []
        try:
            found = find_series(settings, skipped)
        except CannotFit:
            if not settings.toy_family or settings.anchors:
                raise
            found = _run_toy_sweep(settings)
        fit = compare_family(settings, found, skipped)
    print(format_family(fit))
    return fit.directory


def _run_toy_sweep(settings: CompareSettings) -> list:
    """Train the toy family (in a subprocess: the bridge itself does not need torch)."""
    beta = settings.beta if settings.beta is not None else 1.5
    command = [sys.executable, "-m", "theory.simulate", "--beta", json.dumps(beta),
               "--out", str(settings.records), "--no-plot"]
    print("no toy records yet; running: " + " ".join(command), flush=True)
    subprocess.run(command, check=True)
    return find_series(settings)


if __name__ == "__main__":
    main()
