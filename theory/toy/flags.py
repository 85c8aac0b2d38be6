"""The toy sweep's command-line flags, declared once (`runstore.options`) for every command
that runs the toy (`python -m theory.simulate` and its views), and the `ToyConfig` they
describe.

The flags that set a `ToyConfig` field as it is (widths, steps, features, p, batch and the
output sampling) are that field's declaration (`theory.toy.config`); `ToyFlags` holds the
ones a command reads differently (a seed count, a rent that may be 'auto', the device),
`ModelFlags` the model's beta and threshold, `RunFlags` where the records go.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from pathlib import Path

from runstore.options import add_flags, check_fields, flag, from_flags
from theory.toy.config import ToyConfig, auto_rent

#: --tau's help in every command that measures the toy: one threshold, the model's tau and
#: the Rosetta correlation threshold rho* of the toy's matches.
TAU_HELP = "isolation threshold in (0, 1]; the toy's Rosetta threshold rho* (r >= tau)"
DEVICE_HELP = "auto (CUDA when present), cpu, cuda"


@dataclasses.dataclass(frozen=True)
class ModelFlags:
    """The allocation model's importance exponent and threshold, as every toy command reads
    them."""

    beta: float = flag(1.5, "importance exponent (> 1)", above=1.0, below=math.inf)
    tau: float = flag(0.5, TAU_HELP, above=0.0, at_most=1.0)

    def __post_init__(self) -> None:
        check_fields(self)


@dataclasses.dataclass(frozen=True)
class ToyFlags:
    """The toy flags that are not a `ToyConfig` field as they are."""

    seeds: int = flag(len(ToyConfig.seeds), "seeds per width (>= 2; every pair is matched)",
                      at_least=2, hint="a pair to match")
    rent: str = flag("0", "the rent arm's kappa: each neuron pays kappa/N on its squared "
                     "weights; 0 for no rent, 'auto' for the kappa whose frontier is half the "
                     "smallest width (docs/theory.md, section 7)")
    device: str = flag("auto", DEVICE_HELP)

    def __post_init__(self) -> None:
        check_fields(self)


@dataclasses.dataclass(frozen=True)
class RunFlags:
    """Where a toy command's records go, and whether it draws its figure."""

    out: Path = flag(Path("runs"), "root of run directories")
    no_plot: bool = flag(False, "skip the figure")


def add_toy_flags(group: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The toy nets' widths, seeds, training and device flags."""
    add_flags(group, ToyConfig)
    add_flags(group, ToyFlags)


def add_run_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Where a toy command's records go, and the figure."""
    add_flags(parser, RunFlags)


def toy_config_from_flags(args: argparse.Namespace, *, beta: float) -> ToyConfig:
    """The ToyConfig of the flags of `add_toy_flags`; a value outside its declared range
    (fewer than 2 seeds, say) is refused as `ValueError` naming the flag."""
    toy = from_flags(ToyFlags, args)
    return from_flags(ToyConfig, args, beta=beta, seeds=tuple(range(toy.seeds)),
                      warmup=min(ToyConfig.warmup, args.steps // 10),
                      rent=rent_from_flag(toy.rent, beta=beta, p=args.p, widths=args.widths))


def rent_from_flag(text: str, *, beta: float, p: float, widths) -> float:
    """--rent: a number (kappa) or 'auto' (`theory.toy.config.auto_rent`)."""
    if text == "auto":
        return auto_rent(beta, p, min(widths))
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"--rent must be a number or 'auto', got {text!r}") from None
