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
import logging
import sys
from pathlib import Path

from empirics.toy.study import StudyDesign, run_study
from empirics.toy.summary import format_study
from runstore.commands import add_debug_flag, command_parser, reported
from runstore.devices import resolve_device
from runstore.options import float_list, int_list
from theory.toy.flags import add_run_flags
from theory.toy.plot import plot_toy_study


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m empirics.toy_study", __doc__)
    d = StudyDesign()
    p.add_argument("--arms", type=lambda t: tuple(t.split(",")), default=d.arms,
                   help="comma-separated arms: none, rent")
    p.add_argument("--betas", type=float_list, default=d.betas, help="importance exponents")
    p.add_argument("--pools", type=int_list, default=d.pools,
                   help="feature pools n; the first is the arms' pool, all are scanned")
    p.add_argument("--scan-beta", type=float, default=d.scan_beta, help="beta of the pool scan")
    p.add_argument("--active", type=float, default=d.active,
                   help="mean active features p*n, fixed over the pool scan")
    p.add_argument("--widths", type=int_list, default=d.widths, help="hidden widths")
    p.add_argument("--seeds", type=int, default=len(d.seeds), help="seeds per width (>= 3)")
    p.add_argument("--steps", type=int_list, default=d.steps,
                   help="the two training lengths (convergence check)")
    p.add_argument("--batch", type=int, default=d.batch, help="samples per step")
    p.add_argument("--dense-limit", type=int, default=d.dense_limit,
                   help="pools above this train with the sampled output loss")
    p.add_argument("--output-samples", type=int, default=d.output_samples,
                   help="tail draws per step of the sampled output loss")
    p.add_argument("--tau", type=float, default=d.rho_star,
                   help="Rosetta threshold rho* of every sweep (theory.simulate's --tau)")
    p.add_argument("--fixed-scan-steps", action="store_true",
                   help="train the pool scan at the short length (default: scaled by n / n_0, "
                        "so every feature fires as often as in the first pool)")
    p.add_argument("--revive-outputs", action=argparse.BooleanOptionalAction,
                   default=d.revive_outputs,
                   help="train on the loss's bound that keeps a gradient on dead outputs "
                        "(--no-revive-outputs: the plain loss; docs/theory.md, section 7)")
    p.add_argument("--limit", type=int, default=None, help="run only the first K cells")
    p.add_argument("--saved-only", action="store_true",
                   help="train nothing: table the cells whose sweeps are already saved")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
    add_run_flags(p, force_help="rebuild the table (sweeps are reused)")
    add_debug_flag(p)
    return p


def main(argv: list[str] | None = None) -> Path:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("empirics").setLevel(logging.INFO)
    try:
        if args.seeds < 3:
            raise ValueError(f"--seeds must be at least 3 (failed nets are found among "
                             f"seeds), got {args.seeds}")
        design = StudyDesign(
            arms=args.arms, betas=args.betas, pools=args.pools, scan_beta=args.scan_beta,
            active=args.active, widths=args.widths, seeds=tuple(range(args.seeds)),
            steps=args.steps, batch=args.batch, dense_limit=args.dense_limit,
            output_samples=args.output_samples, rho_star=args.tau,
            scale_scan_steps=not args.fixed_scan_steps, revive_outputs=args.revive_outputs)
        device = resolve_device(args.device)
    except (TypeError, ValueError) as error:
        parser.error(str(error))
    with reported(parser, debug=args.debug):
        study, directory = run_study(design, out=args.out, device=device, force=args.force,
                                     progress=sys.stderr.isatty(), limit=args.limit,
                                     saved_only=args.saved_only)
    print(format_study(study))
    if not args.no_plot:
        paths = plot_toy_study(study.rows, directory / "toy_study", scan_beta=design.scan_beta)
        print("figure: " + ", ".join(str(p) for p in paths))
    print(f"study record: {directory}")
    return directory


if __name__ == "__main__":
    main()
