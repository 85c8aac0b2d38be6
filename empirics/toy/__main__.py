"""python -m empirics.toy: the toy part of `python -m theory.simulate` alone: train and match
the toy family, next to the allocation model at its widths.

    python -m empirics.toy --beta 1.5 --widths 8,16,32,64,128 --seeds 3 --steps 1500

The same pipeline and flags as theory.simulate's toy sweep (`empirics.toy.sweep`,
`theory.toy.flags`): toy superposition nets are trained at every width and seed, every seed
pair is matched with the engine (mutual nearest neighbours, r >= --tau) and counted, with the
untrained and input-permutation nulls; the records land in
runs/empirics/toy-beta<beta>-rho<tau>-<hash>/, the prediction at the default allocation
parameters beside them.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path

from empirics.toy.summary import toy_summary
from empirics.toy.sweep import measure_and_predict
from runstore.commands import add_debug_flag, command_parser, reported
from runstore.devices import resolve_device
from runstore.options import add_flags, flag, from_flags
from theory.params import AllocationParams
from theory.toy.flags import ModelFlags, add_run_flags, add_toy_flags, toy_config_from_flags


@dataclasses.dataclass(frozen=True)
class ToyRun:
    """The command's own flags (the model's, the toy's and --out: `theory.toy.flags`)."""

    seed: int = flag(0, "seed recorded with the prediction")
    force: bool = flag(False, "recompute an existing sweep")


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m empirics.toy", __doc__)
    add_flags(p, ModelFlags)
    add_toy_flags(p)
    add_flags(p, ToyRun)
    add_run_flags(p)
    add_debug_flag(p)
    return p


def main(argv: list[str] | None = None) -> Path:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        model = from_flags(ModelFlags, args)
        params = AllocationParams(beta=model.beta, tau=model.tau)
        config = toy_config_from_flags(args, beta=model.beta)
        device = resolve_device(args.device)
    except (TypeError, ValueError) as error:
        parser.error(str(error))
    with reported(parser, debug=args.debug):
        sweep, predicted, directory = measure_and_predict(
            params, config, out=args.out, force=args.force, device=device,
            progress=sys.stderr.isatty(), seed=args.seed)
    print(toy_summary(sweep, predicted, directory, plot=not args.no_plot))
    return directory


if __name__ == "__main__":
    main()
