"""python -m bridge.compare --family NAME: does R(N) follow a power law, and does the theory's
exponent agree?

Reads the family's MatchRecords (from `python -m empirics.match`, or the toy sweep), fits
R = a N^alpha (OLS t interval as the headline; case bootstrap, quasi-Poisson and, when the
records kept per-chunk sums, the data-level interval from resampling the inputs as labelled
checks), compares alpha with the allocation model's prediction for --beta, fits the nulls the
same way, prints a table, and writes a Comparison record and a log-log plot. Nothing is
recomputed from activations, and torch is not needed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from bridge.agreement import predict_with_delta_method
from bridge.comparison import Comparison, build_comparison
from bridge.points import family_points, group_by_size, mean_counts
from empirics.records.anchors import AnchorRecord
from empirics.records.match import MatchRecord
from runstore import find_records, run_dir

#: How to produce the records a family needs, printed when none exist.
PRODUCERS = {
    "language": "python -m empirics.match --family language --all --device cuda --out RUNS "
                "(needs the Pythia / OPT / GPT-2 / Qwen2.5 weights in the Hugging Face cache or "
                "local directories; see empirics/registry.py for the ids)",
    "vision": "python -m empirics.match --family vision --all --device cuda --out RUNS "
              "(needs the OpenCLIP and DINOv2 weights in the Hugging Face cache or local "
              "directories; see empirics/registry.py)",
    "toy": "python -m theory.simulate --beta BETA --out RUNS (trains the toy nets on CPU)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bridge.compare",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--family", required=True, help="family name in the MatchRecords")
    parser.add_argument("--records", type=Path, default=Path("runs"),
                        help="root searched for MatchRecords (default runs/)")
    parser.add_argument("--beta", type=float, default=None,
                        help="importance exponent for the theory's prediction")
    parser.add_argument("--closure", default="P1", help="allocation closure of the prediction")
    parser.add_argument("--size", choices=("neurons", "params"), default="neurons",
                        help="N as matched neurons (the theory's width) or parameters")
    parser.add_argument("--level", type=float, default=0.95)
    parser.add_argument("--margin", type=float, default=0.1,
                        help="equivalence margin on alpha before 'agrees' is printed")
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--replicates", type=int, default=200,
                        help="input resamples per size when records kept per-chunk sums")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None,
                        help="root of the Comparison run directory (default: --records)")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--anchors", action="store_true",
                        help="fit the Rosetta anchor counts (records of python -m "
                             "empirics.anchors) instead of the pairs' counts")
    return parser


def find_match_records(root: Path, family: str) -> list[tuple[Path, MatchRecord]]:
    """Every MatchRecord of `family` under `root`, sorted by path."""
    return find_records(root, MatchRecord, family=family)


def prediction_for(beta: float | None, closure: str):
    if beta is None:
        return None
    from theory.symbolic import exponent

    return predict_with_delta_method(lambda b: exponent(closure, b), beta)


def format_table(groups: dict, comparison: Comparison, null_lines: list[str]) -> str:
    lines = [f"{'N':>12} {'pairs':>5} {'R(N)':>10} {'R/N':>9} {'bar low':>9} {'bar high':>9}"]
    bars = comparison.error_bars
    for i, (size, records) in enumerate(groups.items()):
        low = f"{bars['low'][i]:9.1f}" if bars else f"{'-':>9}"
        high = f"{bars['high'][i]:9.1f}" if bars else f"{'-':>9}"
        lines.append(f"{size:12.4g} {len(records):5d} {comparison.counts[i]:10.1f} "
                     f"{comparison.counts[i] / size:9.2e} {low} {high}")
    lines.append("")
    for method, ci in comparison.intervals.items():
        lines.append(f"alpha [{method}]: {ci['estimate']:.3f} [{ci['low']:.3f}, "
                     f"{ci['high']:.3f}]")
    if comparison.agreement:
        a = comparison.agreement
        lines.append(f"predicted alpha {a['alpha_pred']:.3f}: z = {a['z']:.2f}, "
                     f"TOST p = {a['tost_p']:.3f} (margin {a['margin']:g})")
    lines.extend(null_lines)
    lines.append(f"verdict: {comparison.verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> Path:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.anchors:
        return _fit_anchors(parser, args)
    found = find_match_records(args.records, args.family)
    if not found and args.family == "toy":
        found = _run_toy_sweep(args)
    if not found:
        producer = PRODUCERS.get(args.family, "python -m empirics.match --family "
                                 f"{args.family} ... --out RUNS")
        parser.exit(1, f"no MatchRecords of family {args.family!r} under {args.records}. "
                       f"Produce them with:\n  {producer.replace('RUNS', str(args.records))}\n")
    return _fit(parser, args, found)


def _fit(parser, args, found, series: str = "pairs") -> Path:
    """Fit, print, record and plot the counts of `found` (MatchRecords or AnchorRecords)."""
    records = [record for _, record in found]
    real = [r for r in records if r.null == "none"]
    groups = group_by_size(real, args.size)
    if len(groups) < 3:
        parser.exit(1, f"family {args.family!r} has {len(groups)} sizes under {args.records}; "
                       "a power-law fit needs at least 3\n")
    rng = np.random.default_rng(args.seed)
    sizes, counts, reps = family_points(groups, replicates=args.replicates, rng=rng)
    if np.any(counts <= 0):
        parser.exit(1, f"family {args.family!r} has sizes with no Rosetta pairs "
                       f"(counts {counts.tolist()}); a power law needs positive counts\n")
    config = {"family": args.family, "size": args.size, "beta": args.beta,
              "closure": args.closure, "level": args.level, "margin": args.margin,
              "resamples": args.resamples, "replicates": args.replicates, "seed": args.seed,
              "records": sorted(str(path) for path, _ in found)}
    if series != "pairs":
        config["series"] = series
    comparison = build_comparison(
        config, args.family, sizes, counts, rng=rng, level=args.level,
        n_resamples=args.resamples, replicates=reps,
        prediction=prediction_for(args.beta, args.closure), margin=args.margin)
    null_lines = _null_fits(records, args)
    directory = run_dir(args.out or args.records, "compare", config,
                        args.family if series == "pairs" else f"{args.family}-{series}")
    comparison.save(directory)
    print(f"family {args.family}: {len(real)} matched pairs at {len(groups)} sizes "
          f"(N = {args.size})")
    print(format_table(groups, comparison, null_lines))
    if not args.no_plot:
        from bridge.plot import plot_comparison

        paths = plot_comparison(comparison, directory / "scaling")
        print("figure: " + ", ".join(str(p) for p in paths))
    print(f"record: {directory}")
    _polarization(args, directory)
    return directory


def _polarization(args, directory: Path) -> None:
    """Print and record the polarization trends when selectivity records (or, for the toy,
    a ToySweep) exist under --records; say how to make them otherwise."""
    from bridge.trends import (
        format_polarization,
        polarization,
        selectivity_points,
        toy_points,
    )
    from empirics.records.analysis import SelectivityRecord
    from empirics.records.toy import ToySweep
    from runstore import find_records

    if args.family == "toy":
        sweeps = find_records(args.records, ToySweep)
        if not sweeps:
            return
        path, sweep = sweeps[-1]
        sizes, points = toy_points(sweep, level=args.level)
        source, inputs = "toy-isolation", [str(path)]
    else:
        found = [(p, r) for p, r in find_records(args.records, SelectivityRecord,
                                                 family=args.family) if r.null == "none"]
        if not found:
            print("polarization: no selectivity records; make them with python -m "
                  f"empirics.analyze --runs {args.records} --family {args.family}")
            return
        sizes, points = selectivity_points([r for _, r in found], args.size)
        source, inputs = "selectivity", [str(p) for p, _ in found]
    result = polarization({"family": args.family, "level": args.level, "records": inputs},
                          args.family, source, sizes, points, level=args.level)
    result.save(directory / "polarization")
    print("\n".join(format_polarization(result)))


def _fit_anchors(parser, args) -> Path:
    """The same fit over the family's AnchorRecords (anchor counts vs size)."""
    found = find_records(args.records, AnchorRecord, family=args.family)
    if not found:
        parser.exit(1, f"no anchor records of family {args.family!r} under {args.records}. "
                       f"Produce them with:\n  python -m empirics.anchors --family "
                       f"{args.family} --records {args.records}\n")
    return _fit(parser, args, found, series="anchors")


def _null_fits(records: list[MatchRecord], args) -> list[str]:
    """The same OLS fit on each null's counts (where it has >= 3 sizes with pairs)."""
    from bridge.powerlaw import fit_power_law

    lines = []
    for null in sorted({r.null for r in records} - {"none"}):
        groups = group_by_size([r for r in records if r.null == null], args.size)
        counts = mean_counts(groups)
        if len(groups) < 3 or np.any(counts <= 0):
            lines.append(f"null {null}: counts {counts.tolist()} at {len(groups)} sizes "
                         "(no power-law fit)")
            continue
        fit = fit_power_law(np.array(list(groups)), counts, level=args.level)
        lines.append(f"null {null}: alpha = {fit.alpha:.3f} [{fit.low:.3f}, {fit.high:.3f}]")
    return lines


def _run_toy_sweep(args) -> list[tuple[Path, MatchRecord]]:
    """Train the toy family (in a subprocess: the bridge itself does not need torch)."""
    beta = args.beta if args.beta is not None else 1.5
    command = [sys.executable, "-m", "theory.simulate", "--beta", json.dumps(beta),
               "--out", str(args.records), "--no-plot"]
    print("no toy records yet; running: " + " ".join(command), flush=True)
    subprocess.run(command, check=True)
    return find_match_records(args.records, "toy")


if __name__ == "__main__":
    main()
