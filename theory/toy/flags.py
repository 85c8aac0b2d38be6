"""The toy sweep's command-line flags, defined once for every command that runs the toy
(`python -m theory.simulate` and its views), and the `ToyConfig` they describe."""

from __future__ import annotations

import argparse
from pathlib import Path

from runstore.options import int_list
from theory.toy.config import ToyConfig, auto_rent

#: --tau's help in every command that measures the toy: one threshold, the model's tau and
#: the Rosetta correlation threshold rho* of the toy's matches.
TAU_HELP = "isolation threshold in (0, 1]; the toy's Rosetta threshold rho* (r >= tau)"


def add_toy_flags(group: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The toy nets' widths, seeds, training and device flags."""
    group.add_argument("--widths", type=int_list, default=ToyConfig.widths,
                       help="comma-separated hidden widths")
    group.add_argument("--seeds", type=int, default=len(ToyConfig.seeds),
                       help="seeds per width (>= 2; every pair is matched)")
    group.add_argument("--steps", type=int, default=ToyConfig.steps, help="Adam steps")
    group.add_argument("--features", type=int, default=ToyConfig.n_features,
                       help="input features n")
    group.add_argument("--p", type=float, default=ToyConfig.p, help="feature probability")
    group.add_argument("--batch", type=int, default=ToyConfig.batch, help="samples per step")
    group.add_argument("--rent", default="0",
                       help="the rent arm's kappa: each neuron pays kappa/N on its squared "
                            "weights; 0 for no rent, 'auto' for the kappa whose frontier is "
                            "half the smallest width (docs/theory.md, section 7)")
    group.add_argument("--output-samples", type=int, default=ToyConfig.output_samples,
                       help="estimate the loss on the output features past --exact-outputs "
                            "from this many draws per step (0: every output, dense)")
    group.add_argument("--exact-outputs", type=int, default=ToyConfig.exact_outputs,
                       help="output features computed exactly every step when sampling")
    group.add_argument("--revive-outputs", action=argparse.BooleanOptionalAction,
                       default=ToyConfig.revive_outputs,
                       help="train on the loss's upper bound that keeps a gradient on an "
                            "output that is dead where its feature fires (docs/theory.md, "
                            "section 7)")
    group.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")


def add_run_flags(parser: argparse.ArgumentParser, *, force_help: str) -> None:
    """Where a toy command's records go, whether a saved one is rebuilt, and the figure."""
    parser.add_argument("--out", type=Path, default=Path("runs"), help="root of run directories")
    parser.add_argument("--force", action="store_true", help=force_help)
    parser.add_argument("--no-plot", action="store_true", help="skip the figure")


def toy_config_from_flags(args: argparse.Namespace, *, beta: float) -> ToyConfig:
    """The ToyConfig of the flags of `add_toy_flags`; fewer than 2 seeds is refused."""
    if args.seeds < 2:
        raise ValueError(f"--seeds must be at least 2 (a pair to match), got {args.seeds}")
    return ToyConfig(n_features=args.features, p=args.p, beta=beta, widths=args.widths,
                     seeds=tuple(range(args.seeds)), steps=args.steps, batch=args.batch,
                     warmup=min(ToyConfig.warmup, args.steps // 10),
                     rent=rent_from_flag(args.rent, beta=beta, p=args.p, widths=args.widths),
                     output_samples=args.output_samples, exact_outputs=args.exact_outputs,
                     revive_outputs=args.revive_outputs)


def rent_from_flag(text: str, *, beta: float, p: float, widths) -> float:
    """--rent: a number (kappa) or 'auto' (`theory.toy.config.auto_rent`)."""
    if text == "auto":
        return auto_rent(beta, p, min(widths))
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"--rent must be a number or 'auto', got {text!r}") from None
