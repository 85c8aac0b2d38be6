"""Seed helpers. Only command-line `main()` functions call these; library code receives a
generator as parameters (docs/design.md, principles 2 and 3); devices are resolved by
`runstore.devices`."""

from __future__ import annotations

import numpy as np
import torch


def make_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A torch generator on `device` seeded with `seed` (never the global RNG)."""
    generator = torch.Generator(device=torch.device(device))
    generator.manual_seed(int(seed))
    return generator


def make_rng(seed: int) -> np.random.Generator:
    """A NumPy generator seeded with `seed` (never the global RNG)."""
    return np.random.default_rng(int(seed))


def child_seeds(seed: int, n: int) -> list[int]:
    """`n` independent seeds derived from one (NumPy's SeedSequence spawning)."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(int(seed)).spawn(n)]
