"""Device and seed helpers."""

import pytest
import torch

from theory.runtime import child_seeds, make_generator, make_rng, resolve_device


def test_auto_device_follows_cuda_availability():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a CPU-only machine")
def test_missing_cuda_is_a_clear_error():
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda:0")


def test_unknown_device_is_a_clear_error():
    with pytest.raises(ValueError, match="--device"):
        resolve_device("tpu-ish")


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
