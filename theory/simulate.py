"""python -m theory.simulate --beta 1.5: solve the allocation model over a grid of widths.

Prints the table of regimes, counts and polarization, the derived exponent next to the one
fitted on the numeric solution, and writes a TheoryRun record plus a figure (PNG and PDF) in
a run directory derived from the whole config. An existing record is reused unless --force.

Unless --no-train, it then runs the toy sweep: toy superposition nets with the same beta are
trained at --widths x --seeds (theory.toy) and measured with the matching engine (a
Rosetta pair has r >= rho* = --tau, docs/theory.md), and R(N) measured is printed next to
R(N) predicted by the allocation model at the same widths (with n_features = --features),
plus a Figure-27-style plot. The measurement belongs to the toy family's adapter
(`empirics.toy`); this command, like every command, may use any stage, while no library
module of theory/ imports empirics and the measurement never sees the prediction.
`python -m empirics.toy` runs the toy part alone.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import sys
from pathlib import Path


from runstore import reuse_or_build, run_dir
from runstore.commands import add_debug_flag, command_parser, reported
from runstore.devices import resolve_device
from theory.benefit import BENEFIT_FAMILIES, make_benefit
from runstore.options import add_flags, check_fields, flag, from_flags
from theory.params import CLOSURES, AllocationParams
from theory.plot import plot_theory_run
from theory.sweep import TheoryRun, build_theory_run, width_grid
from theory.toy.flags import ModelFlags, add_run_flags, add_toy_flags, toy_config_from_flags

log = logging.getLogger("theory.simulate")

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


@dataclasses.dataclass(frozen=True)
class SimulateSettings:
    """theory.simulate's own flags (beta and tau: `theory.toy.flags.ModelFlags`; the toy
    sweep's, --out and --no-plot: `theory.toy.flags`)."""

    kappa: float = flag(1.0, "price scale (neuron rent)", above=0.0, below=math.inf)
    benefit: str = flag("kurtosis", "benefit curve of isolation: kurtosis (Scherlis-type) or "
                        "quadratic", choices=sorted(BENEFIT_FAMILIES))
    shape: float | None = flag(None, "benefit shape: kurtosis K > 3 (default 10) or eta in "
                               "(0,1) (0.8)", type=float)
    rho: float = flag(4.0, "represented features per neuron", above=0.0, below=math.inf)
    closure: str = flag("P1", "price of isolation: " + "; ".join(
        f"{name}: {text}" for name, text in CLOSURES.items()), choices=sorted(CLOSURES))
    n_min: float = flag(16.0, "smallest width N (>= 1)", at_least=1.0)
    n_max: float = flag(float(2**24), "largest width N", at_least=1.0)
    points: int = flag(11, "widths on the log grid", at_least=2)
    seed: int = flag(0, "seed recorded with the run")
    force: bool = flag(False, "recompute an existing record")
    no_train: bool = flag(False, "skip the toy sweep")

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.n_max > self.n_min:
            raise ValueError(f"--n-max ({self.n_max:g}) must exceed --n-min ({self.n_min:g})")


def build_parser() -> argparse.ArgumentParser:
    parser = command_parser("python -m theory.simulate", __doc__)
    add_flags(parser, ModelFlags)
    add_flags(parser, SimulateSettings)
    add_run_flags(parser)
    add_toy_flags(parser.add_argument_group("toy sweep (trained toy superposition nets)"))
    add_debug_flag(parser)
    return parser


def params_from_flags(model: ModelFlags, settings: SimulateSettings) -> AllocationParams:
    return AllocationParams(
        beta=model.beta, tau=model.tau, kappa=settings.kappa, rho=settings.rho,
        closure=settings.closure, benefit=make_benefit(settings.benefit, settings.shape),
    )


def format_table(run: TheoryRun) -> str:
    header = " ".join(f"{name:>{len(fmt.format(0))}}" for name, _, fmt in COLUMNS)
    rows = [header]
    for i in range(len(run.sweep["n_neurons"])):
        rows.append(" ".join(fmt.format(run.sweep[key][i]) for _, key, fmt in COLUMNS))
    return "\n".join(rows)


def stale_crossover(run: TheoryRun) -> bool:
    """Whether the record's N_* was computed at phi = 1 for a budget phi that is not 1."""
    return not run.crossover_with_budget and run.config["params"]["budget"] != 1.0


def format_summary(run: TheoryRun) -> str:
    p = run.config["params"]
    if math.isfinite(run.fitted_exponent):
        fitted = [f"fitted on the numeric solution {run.fitted_exponent:.4f} "
                  f"(OLS of log R on log N over the {run.n_fit_points} widths with R >= "
                  f"{run.min_fit_count} and the budget slack; the integer staircase alone "
                  f"can move it by up to {run.fitted_exponent_bound:.4f})",
                  f"fraction R(N)/N: exponent {run.fitted_exponent - 1:.4f} (falls when < 0)"]
    else:
        fitted = [f"not fitted on the numeric solution: fewer than 2 widths have R >= "
                  f"{run.min_fit_count} with the budget slack (the budget lines below say "
                  "where it binds)"]
    lines = [
        f"exponent of R(N): derived {run.derived_exponent:.4f} "
        f"(sympy, closure {p['closure']}: {run.derived_exponent_expr}); " + fitted[0],
        *fitted[1:],
        f"Rosetta mean isolation -> m_inf = {run.rosetta_mean_limit:.4f} as r_tau grows",
    ]
    if math.isfinite(run.budget_crossover) and not stale_crossover(run):
        lines.append(f"hard budget sum(s) <= {p['budget']:g} N is slack above N_* = "
                     f"{run.budget_crossover:.4g}")
    elif stale_crossover(run):
        lines.append(f"N_* not shown: this record computed it without the budget phi = "
                     f"{p['budget']:g} (saved before N_* held phi); rerun with --force")
    binding = run.sweep["n_neurons"][run.sweep["budget_multiplier"] > 0]
    if binding.size:
        lines.append(f"the hard budget binds at {binding.size} widths (N <= {binding.max():.4g}): "
                     "there R(N) grows about linearly and these widths are left out of the fit")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> Path:
    """Run the command; return the allocation run's directory. Bad input exits with status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("theory").setLevel(logging.INFO)
    try:
        model, settings = from_flags(ModelFlags, args), from_flags(SimulateSettings, args)
        params = params_from_flags(model, settings)
        widths = width_grid(settings.n_min, settings.n_max, settings.points)
        toy_config = None if settings.no_train else toy_config_from_flags(args, beta=model.beta)
    except (TypeError, ValueError) as error:
        parser.error(str(error))
    config = {"params": params.to_config(), "widths": widths.tolist(), "seed": args.seed}
    label = f"{params.closure}-beta{params.beta:g}-tau{params.tau:g}"
    directory = run_dir(args.out, "theory", config, label=label)
    with reported(parser, debug=args.debug):
        run, _ = reuse_or_build(directory, TheoryRun, lambda: build_theory_run(
            params, widths, seed=args.seed, progress=sys.stderr.isatty()), force=args.force)
    print(format_table(run))
    print(format_summary(run))
    if not args.no_plot:
        paths = plot_theory_run(run, directory / "frontiers")
        print("figure: " + ", ".join(str(p) for p in paths))
    print(f"record: {directory}")
    if toy_config is not None:
        # The toy nets are measured by the matching engine, one stage up (the toy family's
        # pipeline); a command may use any stage, a library module of theory/ may not.
        from empirics.toy.summary import toy_summary
        from empirics.toy.sweep import measure_and_predict

        with reported(parser, debug=args.debug):
            sweep, predicted, toy_directory = measure_and_predict(
                params, toy_config, out=args.out, force=args.force,
                device=resolve_device(args.device), progress=sys.stderr.isatty(),
                seed=args.seed)
        print(toy_summary(sweep, predicted, toy_directory, plot=not args.no_plot))
    return directory


if __name__ == "__main__":
    main()
