"""The one log-log slope: rows at once, masks, positive counts, against numpy's polyfit."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from theory.slopes import log_log_slope, log_log_slopes, positive_log_log_slopes


def test_log_log_slopes_broadcast_rows_and_mark_single_size_rows():
    x = np.log(np.geomspace(1e7, 1e10, 5))
    y = np.stack([0.3 * x, 0.9 * x + 2.0])
    np.testing.assert_allclose(log_log_slopes(x, y), [0.3, 0.9], rtol=1e-12)
    assert np.isnan(log_log_slopes(np.full(4, x[2]), np.arange(4.0)))


@given(st.lists(st.floats(0.0, 1e4), min_size=2, max_size=8), st.floats(0.1, 2.0))
def test_positive_slopes_fit_the_positive_counts_like_polyfit(counts, alpha):
    widths = 2.0 ** np.arange(len(counts))
    counts = np.round(np.asarray(counts) * widths ** alpha)
    keep = counts > 0
    got = positive_log_log_slopes(widths, counts)
    if keep.sum() < 2:
        assert np.isnan(got)
    else:
        want = np.polyfit(np.log(widths[keep]), np.log(counts[keep]), 1)[0]
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_rows_of_a_mask_are_independent_fits():
    widths = np.array([8.0, 16.0, 32.0, 64.0])
    counts = np.array([[1.0, 2.0, 4.0, 8.0], [0.0, 4.0, 16.0, 64.0], [0.0, 0.0, 0.0, 5.0]])
    np.testing.assert_allclose(positive_log_log_slopes(widths, counts)[:2], [1.0, 2.0])
    assert np.isnan(positive_log_log_slopes(widths, counts)[2])
    assert np.isclose(log_log_slope(widths, 3.0 * widths ** 0.5), 0.5, rtol=1e-12)
