"""The toy nets' data: sparse features, their sparse batch form, and seeded generators.

Features x_r = b_r u_r with b_r ~ Bernoulli(p) and u_r ~ U[-1, 1] (`theory.toy.model`). A
training batch never exists densely: `sample_batch` draws the active entries directly and
`ActiveFeatures` carries them to the first layer (an embedding_bag) and the loss (a correction
on the active entries), so a step costs ~p of a dense pass over the inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from theory.toy.config import ToyConfig


@dataclass(frozen=True)
class ActiveFeatures:
    """The nonzero entries of a batch x of `shape` (S, T, n): their flat positions in x
    (ascending), sample row in the flattened (S*T, n) batch, seed, feature and value."""

    flat: torch.Tensor
    row: torch.Tensor
    seed: torch.Tensor
    feature: torch.Tensor
    value: torch.Tensor
    shape: tuple[int, int, int]

    @classmethod
    def from_flat(cls, flat: torch.Tensor, value: torch.Tensor, shape) -> ActiveFeatures:
        _, n_samples, n = shape
        row = flat // n
        return cls(flat, row, row // n_samples, flat % n, value, tuple(shape))


def active_features(x: torch.Tensor) -> ActiveFeatures:
    """The active (nonzero) features of a dense batch x (S, T, n)."""
    flat = x.reshape(-1).nonzero().squeeze(1)
    return ActiveFeatures.from_flat(flat, x.reshape(-1)[flat], x.shape)


def sample_positions(n_samples: int, config: ToyConfig, *, generator: torch.Generator
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """One stream of sparse features: the flat positions (ascending) of the active entries
    of an (n_samples, n) batch and their values u ~ U[-1, 1].

    Notes
    -----
    Every entry is active with probability p independently: the gaps between active
    positions of a Bernoulli(p) sequence are Geometric(p), so drawing about p n T gaps (and
    one value per active entry) gives the same law as thresholding n T uniforms, at a
    fraction p of the random numbers and without a dense pass.
    """
    total = n_samples * config.n_features
    device = generator.device
    expected = total * config.p
    chunk = int(expected + 8.0 * math.sqrt(expected) + 16)
    ends, reached = [], 0
    while reached < total:
        gaps = torch.empty(chunk, dtype=torch.float64, device=device)
        ends.append(gaps.geometric_(config.p, generator=generator).cumsum(0) + reached)
        reached = int(ends[-1][-1])
    positions = torch.cat(ends).to(torch.int64) - 1
    positions = positions[positions < total]
    values = torch.rand(len(positions), generator=generator, device=device) * 2.0 - 1.0
    return positions, values


def sample_features(n_samples: int, config: ToyConfig, *, generator: torch.Generator
                    ) -> torch.Tensor:
    """Dense sparse features x (n_samples, n), on the generator's device."""
    positions, values = sample_positions(n_samples, config, generator=generator)
    x = torch.zeros(n_samples * config.n_features, device=generator.device)
    return x.index_put_((positions,), values).view(n_samples, config.n_features)


def sample_batch(n_samples: int, config: ToyConfig, *, generators: list[torch.Generator]
                 ) -> ActiveFeatures:
    """One training batch: n_samples from each seed's own stream, kept sparse."""
    total = n_samples * config.n_features
    drawn = [sample_positions(n_samples, config, generator=gen) for gen in generators]
    flat = torch.cat([positions + seed * total for seed, (positions, _) in enumerate(drawn)])
    return ActiveFeatures.from_flat(flat, torch.cat([values for _, values in drawn]),
                                    (len(generators), n_samples, config.n_features))


def sample_eval_set(config: ToyConfig, *, generator: torch.Generator) -> torch.Tensor:
    """The shared evaluation inputs (n_eval, n) every instance is measured on."""
    return sample_features(config.n_eval, config, generator=generator)


def instance_generator(seed: int, *parts: int, device="cpu") -> torch.Generator:
    """A generator seeded by (seed, *parts) through a fixed mixing, independent of order."""
    value = seed
    for part in (*parts, len(parts)):
        value = (value * 1_000_003 + part + 0x9E3779B9) % (2**63 - 1)
    return torch.Generator(device=device).manual_seed(value)
