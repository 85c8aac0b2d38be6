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
import json
import subprocess
import sys
from pathlib import Path

from bridge.baseline import UNTRAINED_MARGIN
from bridge.closures import beta_from_record
from bridge.family import compare_family
from bridge.report import format_family
from bridge.selection import parse_selector
from bridge.settings import CannotFit, CompareSettings, find_series
from empirics.records.nulls import CALIBRATION, CALIBRATIONS, NULL_QUANTILE
from runstore.commands import add_debug_flag, command_parser, reported
from theory.params import CLOSURES
from theory.validation import check_real


def build_parser() -> argparse.ArgumentParser:
    parser = command_parser("python -m bridge.compare", __doc__)
    parser.add_argument("--family", required=True, help="family name in the MatchRecords")
    parser.add_argument("--records", type=Path, default=Path("runs"),
                        help="root searched for MatchRecords")
    parser.add_argument("--beta", type=importance_exponent, default=None,
                        help="importance exponent for the theory's prediction (> 1)")
    parser.add_argument("--closure", choices=sorted(CLOSURES), default="P1",
                        help="allocation closure of the prediction")
    parser.add_argument("--size", choices=("neurons", "params"), default="neurons",
                        help="N as matched neurons (the theory's width) or parameters")
    parser.add_argument("--level", type=float, default=0.95,
                        help="coverage of the exponent's intervals")
    parser.add_argument("--margin", type=float, default=0.1,
                        help="equivalence margin on alpha before 'agrees' is printed")
    parser.add_argument("--resamples", type=int, default=10_000,
                        help="resamples of the case bootstrap and the parametric data-level "
                             "interval")
    parser.add_argument("--replicates", type=int, default=200,
                        help="input resamples per size when records kept per-chunk sums")
    parser.add_argument("--seed", type=int, default=0, help="seed of the resampling")
    parser.add_argument("--out", type=Path, default=None,
                        help="root of the Comparison run directory (default: --records)")
    parser.add_argument("--no-plot", action="store_true", help="skip the log-log plots")
    parser.add_argument("--anchors", action="store_true",
                        help="fit the Rosetta anchor counts (records of python -m "
                             "empirics.anchors) instead of the pairs' counts")
    parser.add_argument("--select", action="append", default=[], metavar="KEY=VALUE",
                        help="keep the records whose series key has this value (e.g. "
                             "beta=1.5, k=1, dtype=\"float32\"); repeatable. Records of "
                             "several series are never fitted together")
    parser.add_argument("--null-quantile", type=float, default=NULL_QUANTILE,
                        help="also fit the counts calibrated by each pair's own null (its "
                             "records: empirics.match --null permuted) at this quantile of "
                             "the null's r (see --calibration)")
    parser.add_argument("--calibration", choices=CALIBRATIONS, default=CALIBRATION,
                        help="best-partner-excess: the mutual pairs at or above the quantile "
                             "of every live neuron's best-partner r in the null, minus the "
                             "null's mean count above it; mutual-quantile: the mutual pairs "
                             "above the quantile of the null's mutual-pair r (the earlier "
                             "rule). docs/selection.md")
    parser.add_argument("--calibrate-against", choices=("permuted", "untrained"),
                        default="permuted",
                        help="the null whose mutual-pair r sets the threshold: the pair's "
                             "permutation null (chance), or the untrained pairs of the same "
                             "models and settings (what untrained networks share; --init "
                             "random, seeds pooled)")
    parser.add_argument("--no-calibration", action="store_true",
                        help="fit only the raw counts")
    parser.add_argument("--beta-from", type=Path, action="append", default=[],
                        metavar="RECORD_DIR",
                        help="an ImportanceRecord of python -m empirics.importance: every "
                             "closure's exponent at its beta, against the measured one "
                             "(repeatable)")
    parser.add_argument("--keep-untrained-models", action="store_true",
                        help="keep in the fits the pairs with a model whose held-out loss is "
                             f"not {UNTRAINED_MARGIN:g} nats below its tokenizer's unigram "
                             "baseline (left out and named by default)")
    parser.add_argument("--beta-estimate", default=None,
                        help="which estimate of the importance record gives beta (default "
                             "zipf-mle-1gram; e.g. spectrum-mean)")
    parser.add_argument("--require-exact", nargs="?", const="all", default=None,
                        choices=("all", "calibrated"),
                        help="refuse, naming the records, when a count to be fitted is not "
                             "certified exact (two-stage records: below the r their count is "
                             "certified from; docs/matching.md); 'calibrated': only the "
                             "calibrated counts must be")
    add_debug_flag(parser)
    return parser


def importance_exponent(text: str) -> float:
    """--beta: a finite number above 1, the domain of every closure's exponent."""
    try:
        return check_real("beta", float(text), low=1.0, low_open=True, finite=True)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def settings_from_args(args: argparse.Namespace) -> CompareSettings:
    return CompareSettings(
        family=args.family, records=args.records, beta=args.beta, closure=args.closure,
        size=args.size, level=args.level, margin=args.margin, resamples=args.resamples,
        replicates=args.replicates, seed=args.seed, out=args.out, plot=not args.no_plot,
        anchors=args.anchors, select=tuple(args.select),
        null_quantile=None if args.no_calibration else args.null_quantile,
        calibrate_against=args.calibrate_against, calibration=args.calibration,
        beta_from=tuple(args.beta_from), beta_estimate=args.beta_estimate,
        require_exact=args.require_exact, keep_untrained_models=args.keep_untrained_models)


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
            if settings.family != "toy" or settings.anchors:
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
