"""Streaming moments and blocked Pearson correlation against float64 references."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from empirics.engine.blocks import correlation_rows
from empirics.engine.moments import batch_moments, merge_moments, stream_moments
from tests.empirics.conftest import make_source


def reference(a, b):
    return np.corrcoef(a, b, rowvar=False)[: a.shape[1], a.shape[1]:]


@settings(max_examples=30)
@given(seed=st.integers(0, 2**31), tokens=st.integers(20, 400),
       splits=st.lists(st.integers(1, 399), max_size=6), start=st.integers(0, 5),
       stop=st.integers(6, 12), mean=st.sampled_from([0.0, 1e3, -5e4]))
def test_correlation_equals_corrcoef_for_any_split_and_block(seed, tokens, splits, start, stop,
                                                             mean):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((tokens, 12)) + mean
    b = 0.6 * a[:, :9] + rng.standard_normal((tokens, 9))
    source = make_source(a, b, [s for s in splits if s < tokens])
    moments_a, moments_b = stream_moments(source)
    r = correlation_rows(source, moments_a, moments_b, slice(start, stop)).numpy()
    np.testing.assert_allclose(r, reference(a, b)[start:stop], atol=1e-6, rtol=0)


def test_chan_merge_equals_one_batch(rng):
    x = torch.from_numpy(rng.standard_normal((1000, 5)) * 0.01 + 1e6)
    whole = batch_moments(x)
    merged = merge_moments(merge_moments(batch_moments(x[:3]), batch_moments(x[3:700])),
                           batch_moments(x[700:]))
    assert merged.count == 1000
    torch.testing.assert_close(merged.mean, whole.mean, rtol=1e-15, atol=0)
    # Inputs carry rounding of eps * mean = 1e-10 against a spread of 0.01: M2 itself is only
    # defined to about eps * mean / std relative, whichever way it is summed.
    limit = 4 * np.finfo(float).eps * 1e6 / 0.01
    torch.testing.assert_close(merged.m2, whole.m2, rtol=limit, atol=0)


def test_affine_maps_keep_r_and_sign_flips_flip_it(rng):
    a = rng.standard_normal((500, 4))
    b = a + rng.standard_normal((500, 4))
    base = correlation_rows(*_args(a, b)).numpy()
    scaled = a * np.array([2.0, 1e-3, 50.0, 7.0]) + np.array([1e3, -4.0, 0.0, 1e4])
    np.testing.assert_allclose(correlation_rows(*_args(scaled, b)).numpy(), base, atol=1e-6)
    flipped = a * np.array([-1.0, 1.0, 1.0, 1.0])
    flipped_r = correlation_rows(*_args(flipped, b)).numpy()
    np.testing.assert_allclose(flipped_r[0], -base[0], atol=1e-6)


def _args(a, b):
    source = make_source(a, b, [100, 250])
    return (source, *stream_moments(source), slice(None))


@pytest.mark.parametrize(
    "a, b, message",
    [(np.full((5, 2), np.nan), np.zeros((5, 2)), "model A: non-finite"),
     (np.zeros((5, 2)), np.array([[np.inf, 0]] * 5), "model B: non-finite"),
     (np.zeros((5, 2)), np.zeros((4, 2)), "aligned"),
     (np.zeros((0, 2)), np.zeros((0, 2)), "empty")],
)
def test_bad_input_is_a_clear_error(a, b, message):
    with pytest.raises(ValueError, match=message):
        stream_moments(make_source(a, b, []))


def test_changing_widths_are_refused():
    def stream():
        yield torch.zeros(3, 2), torch.zeros(3, 2)
        yield torch.zeros(3, 3), torch.zeros(3, 2)

    with pytest.raises(ValueError, match="batch 1: widths"):
        stream_moments(stream)


@pytest.mark.parametrize("mean", [0.0, 1e3, 5e4])
def test_float32_inputs_with_large_means_stay_accurate(rng, mean):
    a = (rng.standard_normal((3000, 16)) + mean).astype(np.float32)
    b = (0.5 * (a - mean) + rng.standard_normal((3000, 16))).astype(np.float32)
    source = make_source(a, b, [700, 2100])
    r = correlation_rows(source, *stream_moments(source), slice(None)).numpy()
    exact = reference(a.astype(np.float64), b.astype(np.float64))
    np.testing.assert_allclose(r, exact, atol=1e-6, rtol=0)
