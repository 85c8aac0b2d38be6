"""The toy family's fits: failed nets found by stated rules, excluded pairs, the R >= 10 fit
rule and the bootstrap over the kept rows."""

from __future__ import annotations

import numpy as np

from empirics.toy.readouts import (
    excluded_pairs,
    failed_instances,
    fit_mask,
    pair_bootstrap,
    row_bootstrap,
)


def test_failed_nets_by_each_rule():
    loss = np.array([[4.0, 2.0, 1.0], [4.2, 2.1, 1.1], [3.9, 9.0, 1.0], [4.1, 2.0, 1.3]])
    top = np.array([[0.1, 0.0, 0.0], [0.1, 0.9, 0.0], [0.1, 0.0, 0.0], [0.2, 0.0, 0.0]])
    failed = failed_instances(loss, top)
    expected = np.zeros_like(failed)
    expected[2, 1] = True  # 9 > 2 x the median of the width
    expected[1, 1] = True  # the top feature unlearnt where the others learnt it
    np.testing.assert_array_equal(failed, expected)
    rising = failed_instances(np.array([[1.0, 1.2]]), np.zeros((1, 2)))
    np.testing.assert_array_equal(rising, [[False, True]])  # a loss that rises with N
    # every seed unlearnt (short training) is not a failure of one net
    assert not failed_instances(np.ones((3, 2)), np.full((3, 2), 0.9)).any()


def test_pairs_with_a_failed_net_are_excluded():
    failed = np.array([[False, True], [False, False], [False, False]])
    pairs = np.array([[0, 1], [0, 2], [1, 2]])
    np.testing.assert_array_equal(excluded_pairs(pairs, failed),
                                  [[False, True], [False, True], [False, False]])


def test_the_fit_uses_widths_with_a_mean_of_ten_or_more():
    counts = np.array([[4.0, 9.0, 20.0, np.nan], [6.0, 12.0, 40.0, np.nan]])
    np.testing.assert_array_equal(fit_mask(counts), [False, True, True, False])


def test_the_bootstrap_recovers_a_planted_slope_with_excluded_rows(rng):
    widths = np.array([16.0, 32, 64, 128, 256])
    counts = 3.0 * widths**0.5 * rng.lognormal(0.0, 0.05, size=(6, 5))
    counts[1, 2] = counts[4, 0] = np.nan
    counts[0, 3] = 1e6  # an outlier, then excluded: it must not move the fit
    with_outlier = pair_bootstrap(widths, counts, rng=rng)[0]
    counts[0, 3] = np.nan
    estimate, low, high = pair_bootstrap(widths, counts, rng=rng)
    assert low < 0.5 < high and high - low < 0.1 and abs(with_outlier - 0.5) > 0.2
    # widths with a mean below 10 are left out: 1.5 sqrt(N) is 6 and 8.5 at N = 16, 32
    small = counts / 2.0
    assert fit_mask(small).tolist() == [False, False, True, True, True]
    assert np.isnan(row_bootstrap(widths, small, np.zeros(5, dtype=bool), rng=rng)[0])
