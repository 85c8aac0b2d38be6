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
from theory.params import CLOSURES
from theory.runtime import resolve_device
from theory.validation import int_list


def build_parser() -> argparse.ArgumentParser:
    d = ImportanceSettings
    p = command_parser("python -m empirics.importance", __doc__)
    p.add_argument("--corpus", type=Path, required=True, help="a python -m empirics.corpus dir")
    p.add_argument("--model-dir", type=Path, required=True,
                   help="a python -m empirics.train dir (one folder per model)")
    p.add_argument("--model", action="append", default=None,
                   help="a model of --model-dir (repeat for several; default: the widest of "
                        "each architecture, lowest seed)")
    p.add_argument("--out", type=Path, default=d.out, help="where records go")
    p.add_argument("--split", choices=("heldout", "train"), default=d.split,
                   help="the corpus split tokenized and streamed")
    p.add_argument("--docs", type=int, default=d.docs,
                   help="use the first DOCS documents of the split (0: all)")
    p.add_argument("--ngrams", type=int_list, default=",".join(map(str, d.ngrams)),
                   help="n-gram orders for Zipf")
    p.add_argument("--rank-min", type=int, default=d.rank_min, help="first Zipf rank fitted")
    p.add_argument("--rank-max", type=int, default=d.rank_max, help="last Zipf rank fitted")
    p.add_argument("--min-count", type=float, default=d.min_count,
                   help="fit only ranks counted at least this often")
    p.add_argument("--eig-min", type=int, default=d.eig_min,
                   help="first eigenvalue index fitted")
    p.add_argument("--eig-max", type=int, default=d.eig_max,
                   help="last eigenvalue index fitted (0: d_model / 2)")
    p.add_argument("--context", type=int, default=d.context,
                   help="tokens per window (0: the model's context)")
    p.add_argument("--chunks", type=int, default=d.chunks,
                   help="contiguous chunks of windows resampled by the spectrum's bootstrap")
    p.add_argument("--batch", type=int, default=d.batch, help="windows per forward pass")
    p.add_argument("--boot", type=int, default=d.boot, help="bootstrap replicates")
    p.add_argument("--level", type=float, default=d.level, help="interval coverage")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of the bootstraps")
    p.add_argument("--closure", choices=sorted(CLOSURES), default=d.closure,
                   help="the closure whose slope of log R vs log N is printed")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
    p.add_argument("--force", action="store_true", help="recompute records already saved")
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
        settings = ImportanceSettings(
            corpus=args.corpus, model_dir=args.model_dir, models=tuple(args.model or ()),
            out=args.out, split=args.split, docs=args.docs, ngrams=tuple(args.ngrams),
            rank_min=args.rank_min, rank_max=args.rank_max, min_count=args.min_count,
            eig_min=args.eig_min, eig_max=args.eig_max, context=args.context,
            chunks=args.chunks, batch=args.batch, boot=args.boot, level=args.level,
            seed=args.seed, closure=args.closure, device=str(resolve_device(args.device)),
            force=args.force)
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
