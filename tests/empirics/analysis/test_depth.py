"""Depth profile of Rosetta neurons over normalized depth."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from empirics.analysis.depth import depth_bins, depth_profile, normalized_depth
from empirics.analysis.pair_records import depth_record
from tests.bridge.test_compare import planted_record


@given(layers=st.integers(1, 60), bins=st.integers(1, 20), seed=st.integers(0, 2**16))
def test_shares_sum_to_one_and_rates_stay_fractions(layers, bins, seed):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 50, layers)
    counts = rng.integers(0, sizes + 1)
    if counts.sum() == 0:
        counts[0] = 1
    share, rate = depth_profile(counts, sizes, bins)
    assert share.sum() == pytest.approx(1.0) and np.all(share >= 0)
    finite = rate[np.isfinite(rate)]
    assert np.all((finite >= 0) & (finite <= 1))
    assert np.isfinite(rate).sum() == len(np.unique(depth_bins(layers, bins)))
    assert np.sum(rate[np.isfinite(rate)] * np.bincount(depth_bins(layers, bins), weights=sizes,
                                                        minlength=bins)[np.isfinite(rate)]) \
        == pytest.approx(counts.sum())


def test_layers_sit_at_their_centres_and_planted_depths_are_found():
    assert np.allclose(normalized_depth(4), [0.125, 0.375, 0.625, 0.875])
    assert depth_bins(4, 2).tolist() == [0, 0, 1, 1]
    assert depth_bins(3, 10).tolist() == [1, 5, 8]
    share, rate = depth_profile([0, 0, 0, 6], [10, 10, 10, 10], 4)
    assert share.tolist() == [0, 0, 0, 1] and rate.tolist() == [0, 0, 0, 0.6]
    empty, _ = depth_profile([0, 0], [3, 3], 2)
    assert np.isnan(empty).all()
    with pytest.raises(ValueError, match="do not fit"):
        depth_profile([5], [3], 2)


def test_the_depth_record_of_a_match_holds_both_models():
    record = depth_record(planted_record(64, 8), config={}, n_bins=5)
    assert record.edges.tolist() == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert record.share_a.tolist() == [0, 0, 1, 0, 0] and record.n_layers_b == 1
