"""The theory's assumptions read inside toy nets: feature isolation and redundancy from the
weights, the KKT price fitted to an isolation profile, the kurtosis of the inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from theory.toy.config import ToyConfig, auto_rent
from theory.toy.data import instance_generator, sample_features
from theory.toy.internals import (
    feature_profile,
    fit_price,
    fitted_prices,
    input_kurtosis,
    kkt_frontier,
    kkt_profile,
)


def test_the_inputs_kurtosis_is_nine_over_five_p():
    config = ToyConfig(n_features=4, p=0.05, widths=(2,), seeds=(0,), n_eval=400_000)
    x = sample_features(200_000, config, generator=instance_generator(3)).double()
    kurtosis = (x**4).mean(0) / (x**2).mean(0) ** 2
    np.testing.assert_allclose(kurtosis.numpy(), input_kurtosis(0.05), rtol=0.05)


def test_a_planted_kkt_profile_gives_back_its_price():
    for beta, price in ((1.5, 3e-3), (2.0, 1e-4), (3.0, 2e-6)):
        profile = kkt_profile(np.arange(1, 257), price, beta=beta, kurtosis=90.0)
        assert 0 < (profile >= 0.5).sum() < 256  # a real profile, not all one value
        found, rms = fit_price(profile, beta=beta, kurtosis=90.0)
        assert found == pytest.approx(price, rel=1e-4) and rms < 1e-6
        # the frontier at 1/2 is where the profile crosses it
        assert int(kkt_frontier(found, 0.5, beta=beta, kurtosis=90.0)) == (profile >= 0.5).sum()


def test_a_noisy_profile_fits_a_price_near_its_own():
    rng = np.random.default_rng(0)
    profile = kkt_profile(np.arange(1, 513), 1e-3, beta=1.5, kurtosis=50.0)
    noisy = np.clip(profile + rng.normal(0, 0.05, profile.shape), 0, 1)
    found, rms = fit_price(noisy, beta=1.5, kurtosis=50.0)
    assert found == pytest.approx(1e-3, rel=0.15) and 0.02 < rms < 0.08


def planted(config: ToyConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Width 4 reads features 0, 0, 1 alone and one neuron mixes 2 and 3 equally; width 2
    reads 0 alone and is otherwise dead."""
    w_in = torch.zeros(1, config.n_features, config.n_hidden)
    six = config.hidden_slice(4)
    for unit, feature in zip(range(six.start, six.start + 3), (0, 0, 1)):
        w_in[0, feature, unit] = 1.0 + unit
    w_in[0, 2:4, six.start + 3] = 0.7
    two = config.hidden_slice(2)
    w_in[0, 0, two.start] = -2.0
    w_in[0, 5, two.start + 1] = 1.0
    alive = torch.ones(1, config.n_hidden, dtype=torch.bool)
    alive[0, two.start + 1] = False
    return w_in, alive


def test_feature_isolation_and_redundancy_of_planted_weights():
    config = ToyConfig(n_features=6, widths=(4, 2), seeds=(0,))
    isolation, redundancy = feature_profile(config, *planted(config))
    np.testing.assert_allclose(isolation[0, 0], [1, 1, 0.5, 0.5, 0, 0])
    np.testing.assert_allclose(redundancy[0, 0], [2, 1, 1, 0, 0, 0])  # 0.5 counts as dedicated
    np.testing.assert_allclose(isolation[0, 1], [1, 0, 0, 0, 0, 0])  # the dead neuron ignored
    np.testing.assert_allclose(redundancy[0, 1], [1, 0, 0, 0, 0, 0])


def test_fitted_prices_use_the_ranks_up_to_four_n():
    config = ToyConfig(n_features=64, p=0.02, beta=2.0, widths=(4, 8), seeds=(0,))
    ranks = np.arange(1, 65)
    isolation = np.stack([kkt_profile(ranks, 0.05, beta=2.0, kurtosis=90.0),
                          kkt_profile(ranks, 0.01, beta=2.0, kurtosis=90.0)])[None]
    isolation[0, 0, 16:] = 1.0  # past 4 N = 16 the narrow net's profile is never read
    prices, rms = fitted_prices(config, isolation)
    np.testing.assert_allclose(prices[0], [0.05, 0.01], rtol=1e-3)
    assert np.all(rms < 1e-4)


def test_the_auto_rent_puts_the_frontier_at_half_the_smallest_width():
    for beta in (1.5, 2.0, 3.0):
        kappa = auto_rent(beta, 0.02, 16)
        assert (16 * 0.02 / (3 * kappa)) ** (1 / beta) == pytest.approx(8.0)
