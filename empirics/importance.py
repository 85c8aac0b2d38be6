"""python -m empirics.importance: estimate the allocation model's importance exponent beta
from the data, independently of the Rosetta counts (`empirics.pipeline.importance`).

    python -m empirics.importance --corpus corpora/local --model-dir models/local
           [--model NAME ...] [--out runs] [--ngrams 1,2] [--boot 1000] [--device auto]

Per model: the Zipf exponent a of its tokenizer's n-grams on the corpus split (f(r) ∝ r^-a;
maximum likelihood and least squares over a rank window, documents resampled) and the decay
g of every MLP layer's activation covariance spectrum (lambda_i ∝ i^-g, chunks of tokens
resampled). Prints each estimate with its interval, the beta it stands for and the slope of
log R vs log N the closure predicts at that beta (1/beta under P1); writes an
ImportanceRecord per model under OUT/importance/.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from empirics.pipeline.importance import ImportanceSettings, run_importance
from empirics.records.importance import ImportanceRecord
from runstore.commands import DATA_ERRORS, add_debug_flag, command_parser, reported
from runstore.options import add_flags, from_flags


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m empirics.importance", __doc__)
    add_flags(p, ImportanceSettings)
    add_debug_flag(p)
    return p


def _number(value: float) -> str:
    return f"{value:.3f}" if math.isfinite(value) else "n/a"


def _interval(low: float, high: float) -> str:
    return f"[{_number(low)}, {_number(high)}]"


def _order(name: str) -> tuple:
    """Zipf rows first (by n-gram order, then method), then the layers, then their mean."""
    kind, _, rest = name.partition("-")
    if kind == "zipf":
        method, _, gram = rest.partition("-")
        return 0, int(gram.removesuffix("gram")), method
    return 1, math.inf if rest == "mean" else int(rest.removeprefix("layer")), ""


def print_table(records: list[ImportanceRecord]) -> None:
    """One row per estimate of every record: window, estimate, interval, implied beta and
    the closure's slope with its interval."""
    closures = ", ".join(sorted({record.closure for record in records}))
    slope = "1/beta" if closures == "P1" else "slope"
    print(f"{'model':>13} {'estimator':>18} {'window':>9} {'estimate':>8} {'interval':>16} "
          f"{'beta':>6} {slope:>6} {slope + ' interval':>16}")
    for record in records:
        for name in sorted(record.estimates, key=_order):
            fit = record.estimates[name]
            window = "{}-{}".format(*fit["window"])
            beta, slope = fit["implied_beta"], fit["implied_exponent"]
            print(f"{record.model:>13} {name:>18} {window:>9} {_number(fit['estimate']):>8} "
                  f"{_interval(fit['low'], fit['high']):>16} {_number(beta[0]):>6} "
                  f"{_number(slope[0]):>6} {_interval(slope[1], slope[2]):>16}")
    print(f"beta: the estimate read as beta; {slope}: the slope of log R vs log N that closure "
          f"{closures} predicts at that beta (1/beta under P1; n/a where beta <= 1)")


def main(argv: list[str] | None = None) -> list[Path]:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = from_flags(ImportanceSettings, args)
    except ValueError as error:
        parser.error(str(error))
    started = time.perf_counter()
    with reported(parser, debug=args.debug, data=(*DATA_ERRORS, ValueError)):
        written = run_importance(settings, progress=True)
        records = [ImportanceRecord.load(directory) for directory in written]
    print_table(records)
    print(f"{len(records)} record(s) in {time.perf_counter() - started:.1f} s:")
    for directory in written:
        print(f"  {directory}")
    return written


if __name__ == "__main__":
    main()
