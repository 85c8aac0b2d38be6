"""ToyConfig: the toy superposition nets' data, widths, seeds and training settings, checked on
construction against the ranges declared beside each field (`runstore.options`; the fields
a toy command sets from its flags are those flags, `theory.toy.flags`) (docs/theory.md, "Toy
nets"). Torch-free, so records can name it.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import asdict, dataclass

from runstore.options import check_fields, flag


@dataclass(frozen=True)
class ToyConfig:
    """One sweep of toy nets: features, data, widths x seeds and the optimiser.

    Parameters
    ----------
    n_features : number of input features n (should exceed the largest width).
    p : probability that a feature is active in a sample (p n active on average).
    beta : importance exponent, I_r = r^-beta (> 0; the theory needs > 1).
    widths : hidden widths N (distinct positive integers).
    seeds : seed ids; every width is trained once per seed.
    steps, batch : optimiser steps and fresh samples per step.
    lr, warmup, final_lr : peak Adam learning rate, linear warm-up steps, and the cosine
        decay's end as a fraction of lr.
    init_scale : initial weights are init_scale * N(0, 1/fan_in) (fan_in of W1 is p n).
    n_eval : samples of the shared evaluation set (about n_eval p firings per feature).
    rent : kappa of the rent arm (0: no rent, today's toy). Each neuron pays the
        importance-independent price kappa/N on its weights, the penalty
        (kappa / 2N) sum_i (|W1_i|^2 + |W2_i|^2) over the N neurons (docs/theory.md, section 7).
    output_samples : m > 0 estimates the loss on the output features past the first
        `exact_outputs` from m features drawn per step and seed (unbiased in loss and gradient;
        `theory.toy.model.output_columns`); 0 computes every output (dense).
    exact_outputs : output features computed exactly every step when sampling (the head).
    revive_outputs : train on the upper bound of the loss that replaces (ReLU(z) - t)^2 by
        (z - t)^2 where an active target meets a dead output (`theory.toy.model.revived_term`;
        equal to the loss on nets that fit the targets). Off: the plain loss, which leaves
        features learnt in one sign only at small p (docs/theory.md, section 7). A config
        saved before this field existed trained on the plain loss and reads back as off.
    """

    n_features: int = flag(512, "input features n", name="--features", at_least=1)
    p: float = flag(0.02, "feature probability", above=0.0, at_most=1.0)
    beta: float = flag(1.5, "importance exponent", above=0.0, below=math.inf, cli=False)
    widths: tuple[int, ...] = flag((8, 16, 32, 64, 128), "comma-separated hidden widths",
                                   at_least=1)
    seeds: tuple[int, ...] = flag((0, 1, 2), "seed ids", at_least=0, cli=False)
    steps: int = flag(1500, "Adam steps", at_least=1)
    batch: int = flag(256, "samples per step", at_least=1)
    lr: float = flag(3e-3, "peak learning rate", above=0.0, below=math.inf, cli=False)
    warmup: int = flag(200, "warm-up steps", at_least=0, cli=False)
    final_lr: float = flag(0.05, "end of the cosine decay, a fraction of lr", at_least=0.0,
                           at_most=1.0, cli=False)
    init_scale: float = flag(0.05, "initial weight scale", above=0.0, cli=False)
    n_eval: int = flag(8192, "samples of the evaluation set", at_least=1, cli=False)
    log_every: int = flag(50, "steps between logged losses", at_least=1, cli=False)
    rent: float = flag(0.0, "the rent arm's kappa", at_least=0.0, below=math.inf, cli=False)
    output_samples: int = flag(0, "estimate the loss on the output features past "
                               "--exact-outputs from this many draws per step (0: every "
                               "output, dense)", at_least=0)
    exact_outputs: int = flag(512, "output features computed exactly every step when "
                              "sampling", at_least=1)
    revive_outputs: bool = flag(True, "train on the loss's upper bound that keeps a gradient "
                                "on an output that is dead where its feature fires "
                                "(docs/theory.md, section 7)",
                                action=argparse.BooleanOptionalAction)

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(self.widths))
        object.__setattr__(self, "seeds", tuple(self.seeds))
        check_fields(self)
        if not isinstance(self.revive_outputs, bool):
            raise ValueError(f"revive_outputs must be True or False, got {self.revive_outputs!r}")
        for name in ("widths", "seeds"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise ValueError(f"{name} must be distinct, got {list(values)}")
        if self.output_samples and self.exact_outputs >= self.n_features:
            raise ValueError(f"exact_outputs ({self.exact_outputs}) must be below n_features "
                             f"({self.n_features}) when output_samples > 0 (nothing to sample)")
        if self.warmup >= self.steps:
            raise ValueError(f"warmup ({self.warmup}) must be shorter than steps ({self.steps})")

    @property
    def sampled(self) -> bool:
        """Whether the loss on the tail of output features is estimated by sampling."""
        return self.output_samples > 0

    @property
    def n_hidden(self) -> int:
        """Hidden units of one seed over all widths (the concatenated hidden axis)."""
        return sum(self.widths)

    def hidden_slice(self, width: int) -> slice:
        """The slice of the concatenated hidden axis that belongs to `width`."""
        index = self.widths.index(width)
        start = sum(self.widths[:index])
        return slice(start, start + width)

    def to_config(self) -> dict:
        config = asdict(self)
        config["widths"], config["seeds"] = list(self.widths), list(self.seeds)
        return config

    @classmethod
    def from_config(cls, config: dict) -> ToyConfig:
        config = dict(config)
        config["revive_outputs"] = revives_outputs(config)
        config["widths"], config["seeds"] = tuple(config["widths"]), tuple(config["seeds"])
        return cls(**config)


def revives_outputs(config: dict) -> bool:
    """Whether a saved toy config trained on the revived bound; one saved before the field
    existed trained on the plain loss."""
    return bool(config.get("revive_outputs", False))


def arm_label(config: dict, *, kappa_format: str = "g") -> str:
    """The arm of a saved toy config and the loss it trained on: "no rent, revived loss",
    "rent kappa=..., plain loss" and so on."""
    arm = f"rent kappa={config['rent']:{kappa_format}}" if config.get("rent") else "no rent"
    return f"{arm}, {'revived' if revives_outputs(config) else 'plain'} loss"


def auto_rent(beta: float, p: float, n_min: int) -> float:
    """The rent kappa whose representation frontier at the smallest width is half of it.

    A feature pays the rent of two neurons to be reproduced, |x| = ReLU(x) + ReLU(-x), with
    path norms |W1_i| |W2_i| = 1 each, i.e. 2 kappa / N, and gains I_r Var|x_r| ~ I_r p / 3;
    so it is represented while r < r_0(N) = (N p / (3 kappa))^(1/beta) (docs/theory.md,
    section 7). r_0(N_min) = N_min / 2 leaves room for two neurons per represented feature
    at every width (capacity slack), the regime where P1's price alone sets the frontier.
    """
    return (2.0 / n_min) ** beta * n_min * p / 3.0

