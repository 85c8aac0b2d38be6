"""python -m theory.simulate --beta 1.5: solve the allocation model over a grid of widths.

Prints the table of regimes, counts and polarization, the derived exponent next to the one
fitted on the numeric solution, and writes a TheoryRun record plus a figure (PNG and PDF) in
a run directory derived from the whole config. An existing record is reused unless --force.

Unless --no-train, it then runs the toy sweep: toy superposition nets with the same beta are
trained at --widths x --seeds (theory.toy_model) and measured with the matching engine
(rho* = --tau, notes section 3.4), and R(N) measured is printed next to R(N) predicted by the
allocation model at the same widths (with n_features = --features), plus a Figure-27-style
plot. The measurement belongs to `empirics` (the import direction forbids theory to import
it), so `main` takes it as the argument `measure_toy`; called from the command line, the
shell looks it up by name (`TOY_MEASUREMENT`) at run time. The science in theory/ never
calls empirics, and the measurement never sees the prediction.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import logging
import math
import sys
from pathlib import Path

import numpy as np
import torch

from runstore import record_exists, run_dir
from theory.benefit import BENEFIT_FAMILIES, make_benefit
from theory.params import CLOSURES, AllocationParams, check_n_neurons
from theory.plot import plot_theory_run, plot_toy_sweep
from theory.sweep import TheoryRun, build_theory_run, loglog_slope, width_grid
from theory.toy_model import ToyConfig

log = logging.getLogger("theory.simulate")

#: "module:function" measuring the toy family: f(ToyConfig, *, rho_star, out, force, device,
#: progress) -> (record, directory), the record exposing what `format_toy_table` reads.
TOY_MEASUREMENT = "empirics.pipeline.toy:run_toy_sweep"

COLUMNS = (
    ("N", "n_neurons", "{:>12.0f}"),
    ("R(N)", "rosetta_count", "{:>9.0f}"),
    ("R/N", "rosetta_fraction", "{:>9.2e}"),
    ("r_1", "frontier_one", "{:>10.4g}"),
    ("r_tau", "frontier_tau", "{:>10.4g}"),
    ("r_0", "frontier_zero", "{:>10.4g}"),
    ("|A(N)|", "n_represented", "{:>10.4g}"),
    ("saturated", "n_saturated", "{:>10.4g}"),
    ("partial", "n_partial", "{:>10.4g}"),
    ("superposed", "n_superposed", "{:>10.4g}"),
    ("s_Rosetta", "mean_isolation_rosetta", "{:>10.4f}"),
    ("s_nonRos", "mean_isolation_nonrosetta", "{:>10.2e}"),
    ("KKT", "kkt_residual", "{:>8.1e}"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m theory.simulate",
        description="Solve the utility-capacity allocation model over a log grid of widths N.",
    )
    parser.add_argument("--beta", type=float, default=1.5, help="importance exponent (> 1)")
    parser.add_argument("--tau", type=float, default=0.5, help="isolation threshold in (0, 1]")
    parser.add_argument("--kappa", type=float, default=1.0, help="price scale (neuron rent)")
    parser.add_argument("--benefit", choices=sorted(BENEFIT_FAMILIES), default="kurtosis")
    parser.add_argument("--shape", type=float, default=None,
                        help="benefit shape: kurtosis K > 3 (default 10) or eta in (0,1) (0.8)")
    parser.add_argument("--rho", type=float, default=4.0, help="represented features per neuron")
    closures = "; ".join(f"{name}: {text}" for name, text in CLOSURES.items())
    parser.add_argument("--closure", choices=sorted(CLOSURES), default="P1",
                        help=f"price of isolation: {closures}")
    parser.add_argument("--n-min", type=float, default=16.0, help="smallest width N (>= 1)")
    parser.add_argument("--n-max", type=float, default=float(2**24), help="largest width N")
    parser.add_argument("--points", type=int, default=11, help="widths on the log grid")
    parser.add_argument("--out", type=Path, default=Path("runs"), help="root of run directories")
    parser.add_argument("--seed", type=int, default=0, help="seed recorded with the run")
    parser.add_argument("--force", action="store_true", help="recompute an existing record")
    parser.add_argument("--no-plot", action="store_true", help="skip the figure")
    toy = parser.add_argument_group("toy sweep (trained toy superposition nets)")
    toy.add_argument("--no-train", action="store_true", help="skip the toy sweep")
    toy.add_argument("--widths", type=_int_list, default=ToyConfig.widths,
                     help="comma-separated hidden widths (default %(default)s)")
    toy.add_argument("--seeds", type=int, default=len(ToyConfig.seeds),
                     help="seeds per width (>= 2; every pair is matched)")
    toy.add_argument("--steps", type=int, default=ToyConfig.steps, help="Adam steps")
    toy.add_argument("--features", type=int, default=ToyConfig.n_features,
                     help="input features n")
    toy.add_argument("--p", type=float, default=ToyConfig.p, help="feature probability")
    toy.add_argument("--batch", type=int, default=ToyConfig.batch, help="samples per step")
    toy.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
    return parser


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas, got {text!r}")


def toy_config_from_args(args: argparse.Namespace) -> ToyConfig:
    if args.seeds < 2:
        raise ValueError(f"--seeds must be at least 2 (a pair to match), got {args.seeds}")
    return ToyConfig(n_features=args.features, p=args.p, beta=args.beta, widths=args.widths,
                     seeds=tuple(range(args.seeds)), steps=args.steps, batch=args.batch,
                     warmup=min(ToyConfig.warmup, args.steps // 10))


def params_from_args(args: argparse.Namespace) -> AllocationParams:
    return AllocationParams(
        beta=args.beta, tau=args.tau, kappa=args.kappa, rho=args.rho, closure=args.closure,
        benefit=make_benefit(args.benefit, args.shape),
    )


def widths_from_args(args: argparse.Namespace) -> np.ndarray:
    check_n_neurons(args.n_min)
    check_n_neurons(args.n_max)
    if not args.n_max > args.n_min:
        raise ValueError(f"--n-max ({args.n_max:g}) must exceed --n-min ({args.n_min:g})")
    if args.points < 2:
        raise ValueError(f"--points must be at least 2, got {args.points}")
    return width_grid(args.n_min, args.n_max, args.points)


def format_table(run: TheoryRun) -> str:
    header = " ".join(f"{name:>{len(fmt.format(0))}}" for name, _, fmt in COLUMNS)
    rows = [header]
    for i in range(len(run.sweep["n_neurons"])):
        rows.append(" ".join(fmt.format(run.sweep[key][i]) for _, key, fmt in COLUMNS))
    return "\n".join(rows)


def format_summary(run: TheoryRun) -> str:
    p = run.config["params"]
    lines = [
        f"exponent of R(N): derived {run.derived_exponent:.4f} "
        f"(sympy, closure {p['closure']}: {run.derived_exponent_expr}); "
        f"fitted on the numeric solution {run.fitted_exponent:.4f} "
        f"(OLS of log R on log N over the {run.n_fit_points} widths with R >= "
        f"{run.min_fit_count} and the budget slack; "
        f"the integer staircase alone can move it by up to {run.fitted_exponent_bound:.4f})",
        f"fraction R(N)/N: exponent {run.fitted_exponent - 1:.4f} (falls when < 0)",
        f"Rosetta mean isolation -> m_inf = {run.rosetta_mean_limit:.4f} as r_tau grows",
    ]
    if math.isfinite(run.budget_crossover):
        lines.append(f"hard budget sum(s) <= N is slack above N_* = {run.budget_crossover:.4g}")
    binding = run.sweep["n_neurons"][run.sweep["budget_multiplier"] > 0]
    if binding.size:
        lines.append(f"the hard budget binds at {binding.size} widths (N <= {binding.max():.4g}): "
                     "there R(N) grows about linearly and these widths are left out of the fit")
    return "\n".join(lines)


def main(argv: list[str] | None = None, *, measure_toy=None) -> Path:
    """Run the command; return the allocation run's directory. Bad input exits with status 2.

    `measure_toy` measures the toy family (signature of `TOY_MEASUREMENT`); by default the
    one named there.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("theory").setLevel(logging.INFO)
    try:
        params = params_from_args(args)
        widths = widths_from_args(args)
        toy_config = None if args.no_train else toy_config_from_args(args)
    except (TypeError, ValueError) as error:
        parser.error(str(error))
    config = {"params": params.to_config(), "widths": widths.tolist(), "seed": args.seed}
    label = f"{params.closure}-beta{params.beta:g}-tau{params.tau:g}"
    directory = run_dir(args.out, "theory", config, label=label)
    run = _load_or_solve(params, widths, args, directory)
    print(format_table(run))
    print(format_summary(run))
    if not args.no_plot:
        paths = plot_theory_run(run, directory / "frontiers")
        print("figure: " + ", ".join(str(p) for p in paths))
    print(f"record: {directory}")
    if toy_config is not None:
        run_toy(params, toy_config, args, measure_toy or _lookup(TOY_MEASUREMENT))
    return directory


def run_toy(params: AllocationParams, config: ToyConfig, args, measure_toy) -> Path:
    """Measure the toy family, predict R(N) at its widths, print both and plot them."""
    device = _resolve_device(args.device)
    sweep, directory = measure_toy(config, rho_star=args.tau, out=args.out, force=args.force,
                                   device=device, progress=sys.stderr.isatty())
    toy_params = dataclasses.replace(params, n_features=float(config.n_features))
    predicted = build_theory_run(toy_params, np.array(config.widths, dtype=np.float64),
                                 seed=args.seed)
    predicted.save(directory / "prediction")
    print(format_toy_table(sweep, predicted))
    if not args.no_plot:
        paths = plot_toy_sweep(sweep, predicted, directory / "rosetta_toy")
        print("figure: " + ", ".join(str(p) for p in paths))
    print(f"toy record: {directory}")
    return directory


TOY_COLUMNS = (
    ("N", "{:>6.0f}"), ("R_neur", "{:>7.2f}"), ("range", "{:>9}"), ("R_feat", "{:>7.2f}"),
    ("R_pred", "{:>7.0f}"), ("s_Ros", "{:>7.3f}"), ("s_non", "{:>7.3f}"), ("null", "{:>6.2f}"),
    ("perm", "{:>6.2f}"), ("loss", "{:>9.2e}"),
)


def format_toy_table(sweep, predicted: TheoryRun) -> str:
    """R(N) measured (mean and range over seed pairs) next to R(N) predicted, isolation of
    Rosetta and non-Rosetta neurons, the untrained-pair null, and both fitted exponents."""
    counts = sweep.per_pair["rosetta_neurons"]
    columns = [sweep.widths, sweep.mean("rosetta_neurons"),
               [f"{lo:.0f}-{hi:.0f}" for lo, hi in zip(counts.min(0), counts.max(0))],
               sweep.mean("rosetta_features"), predicted.sweep["rosetta_count"],
               sweep.mean("isolation_rosetta"), sweep.mean("isolation_nonrosetta"),
               sweep.mean("null_neurons"), sweep.mean("permuted_neurons"),
               sweep.final_loss.mean(0)]
    rows = [" ".join(f"{name:>{len(fmt.format(0))}}" for name, fmt in TOY_COLUMNS)]
    for i in range(len(sweep.widths)):
        rows.append(" ".join(fmt.format(col[i]) for (_, fmt), col in zip(TOY_COLUMNS, columns)))
    positive = predicted.sweep["rosetta_count"] > 0
    slope = (loglog_slope(sweep.widths[positive], predicted.sweep["rosetta_count"][positive])
             if positive.sum() >= 2 else float("nan"))
    level = f"{100 * sweep.level:g}%"
    rows += [
        f"toy nets: rho* = {sweep.config['rho_star']:g}, {len(sweep.pairs)} seed pairs; "
        f"exponent of R_neurons {_interval(sweep.exponent_neurons)}, of R_features "
        f"{_interval(sweep.exponent_features)} ({level} bootstrap over seed pairs)",
        f"allocation model at the same widths: fitted {slope:.3f}, derived "
        f"{predicted.derived_exponent:.4f} ({predicted.derived_exponent_expr})",
    ]
    return "\n".join(rows)


def _interval(values) -> str:
    estimate, low, high = values
    return f"{estimate:.3f} [{low:.3f}, {high:.3f}]"


def _lookup(target: str):
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _resolve_device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def _load_or_solve(params, widths, args, directory: Path) -> TheoryRun:
    if record_exists(directory) and not args.force:
        log.info("reusing the record in %s (pass --force to recompute)", directory)
        return TheoryRun.load(directory)
    run = build_theory_run(params, widths, seed=args.seed, progress=sys.stderr.isatty())
    run.save(directory)
    return run


if __name__ == "__main__":
    main()
