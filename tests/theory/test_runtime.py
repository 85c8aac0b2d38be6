"""Seed helpers."""

import torch

from theory.runtime import child_seeds, make_generator, make_rng


def test_generators_are_reproducible_and_independent_of_global_state():
    first = torch.rand(4, generator=make_generator(7))
    torch.manual_seed(123)
    torch.rand(10)
    again = torch.rand(4, generator=make_generator(7))
    assert torch.equal(first, again)
    assert not torch.equal(first, torch.rand(4, generator=make_generator(8)))
    assert make_rng(3).random() == make_rng(3).random()


def test_child_seeds_are_distinct_and_stable():
    seeds = child_seeds(0, 8)
    assert len(set(seeds)) == 8
    assert seeds == child_seeds(0, 8)
    assert seeds[:3] == child_seeds(0, 3)
