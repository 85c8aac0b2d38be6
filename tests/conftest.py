"""Shared test set-up: hypothesis profiles and a seeded NumPy generator."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# "ci" is deterministic (derandomized, no example database) so a CI failure reproduces;
# "dev" explores new examples on every run. Select with HYPOTHESIS_PROFILE=dev.
settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261121)


@pytest.fixture
def one_torch_thread():
    """Run a test's torch work on one thread: small products are fastest there and do not
    fight other jobs for cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
