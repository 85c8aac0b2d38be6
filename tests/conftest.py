"""Shared test set-up: hypothesis profiles and a seeded NumPy generator."""

import os

# One thread for torch, OpenMP and BLAS in the tests and in the commands they start (set
# before numpy or torch is imported): the tests' products are small, where a second thread
# only spins, and the suite's time is then its CPU time. A caller's own setting is kept.
for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

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
