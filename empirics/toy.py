"""python -m empirics.toy: train and match the toy family alone, next to the allocation model
at its widths (the toy part of `python -m theory.simulate`).

    python -m empirics.toy --beta 1.5 --widths 8,16,32,64,128 --seeds 3 --steps 1500

Toy superposition nets (theory.toy_model) are trained at every width and seed, every seed
pair is matched with the engine (mutual nearest neighbours, r >= --rho-star) and counted,
with the untrained and input-permutation nulls; the records land in
runs/empirics/toy-beta<beta>-rho<rho*>-<hash>/ (`empirics.pipeline.toy`).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from empirics.pipeline.toy import measure_and_predict, toy_summary
from runstore.commands import command_parser
from runstore.devices import resolve_device
from theory.params import AllocationParams
from theory.toy_flags import add_toy_flags, toy_config_from_flags


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m empirics.toy", __doc__)
    p.add_argument("--beta", type=float, default=1.5, help="importance exponent (> 1)")
    p.add_argument("--rho-star", type=float, default=0.5,
                   help="correlation threshold of a Rosetta pair (the theory's tau)")
    add_toy_flags(p)
    p.add_argument("--out", type=Path, default=Path("runs"), help="root of run directories")
    p.add_argument("--seed", type=int, default=0, help="seed recorded with the prediction")
    p.add_argument("--force", action="store_true", help="recompute an existing sweep")
    p.add_argument("--no-plot", action="store_true", help="skip the figure")
    return p


def main(argv: list[str] | None = None) -> Path:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        params = AllocationParams(beta=args.beta, tau=args.rho_star)
        config = toy_config_from_flags(args, beta=args.beta)
        device = resolve_device(args.device)
    except (TypeError, ValueError) as error:
        parser.error(str(error))
    sweep, predicted, directory = measure_and_predict(
        params, config, rho_star=args.rho_star, out=args.out, force=args.force, device=device,
        progress=True, seed=args.seed)
    print(toy_summary(sweep, predicted, directory, plot=not args.no_plot))
    return directory


if __name__ == "__main__":
    main()
