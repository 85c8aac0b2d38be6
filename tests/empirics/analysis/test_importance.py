"""beta from the data: the Zipf and spectrum estimators recover planted exponents, their
intervals cover the truth at about their nominal rate, and the moments of a model's stream
are its activations' (docs/theory.md, "beta from the data")."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from empirics.analysis.eigenspectrum import (
    ChunkMoments,
    eigenvalues,
    fit_spectrum,
    spectrum_window,
)
from empirics.analysis.importance import (
    corrected_estimate,
    fit_zipf,
    implied_exponent,
    ngram_counts,
    zipf_mle,
    zipf_ols,
    zipf_window,
)
from tests.test_layers import BLOCK_TORCH, ROOT


def zipf_documents(a, *, seed, n_types=3000, n_docs=100, per_doc=1000):
    """Documents of tokens drawn independently from P(r) ∝ r^-a, r <= n_types; the ids are
    a random permutation of the ranks (an estimator must find the ranks itself)."""
    rng = np.random.default_rng(seed)
    p = np.arange(1, n_types + 1.0) ** -a
    ids = rng.permutation(n_types)
    return [ids[rng.choice(n_types, size=per_doc, p=p / p.sum())] for _ in range(n_docs)], rng


def gaussian_moments(g, *, seed, d=48, n=12000, n_chunks=40):
    """Moments of Gaussian samples whose covariance has eigenvalues i^-g in a random basis
    (and a mean far from 0), cut into chunks, as `chunk_moments` accumulates them."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((d, d)))
    x = (rng.standard_normal((n, d)) * np.arange(1, d + 1.0) ** (-g / 2)) @ basis.T + 5.0
    return moments_of(x, n_chunks), rng


def moments_of(x, n_chunks):
    x = x - x[:64].mean(axis=0)
    parts = np.array_split(x, n_chunks)
    return ChunkMoments(np.array([len(p) for p in parts], dtype=np.float64),
                        np.stack([p.sum(axis=0) for p in parts]),
                        np.stack([p.T @ p for p in parts]))


def test_ngram_counts_stay_inside_documents():
    docs = [np.array([3, 1, 3, 1]), np.array([1]), np.array([3, 3])]
    unigrams = ngram_counts(docs, 1).toarray()
    assert unigrams.tolist() == [[2, 2], [1, 0], [0, 2]]  # types 1, 3
    bigrams = ngram_counts(docs, 2).toarray()  # (1,3), (3,1), (3,3): no (1,3) across docs
    assert bigrams.tolist() == [[1, 2, 0], [0, 0, 0], [0, 0, 1]]
    with pytest.raises(ValueError, match="no document"):
        ngram_counts(docs, 5)


@given(a=st.floats(0.3, 3.0), low=st.integers(1, 50), width=st.integers(3, 500))
def test_exact_power_law_counts_give_their_exponent(a, low, width):
    ranks = np.arange(low, low + width)
    counts = 1e9 * ranks ** -a
    assert zipf_mle(counts, ranks) == pytest.approx(a, abs=1e-9)
    assert zipf_ols(counts, ranks) == pytest.approx(a, abs=1e-9)


def test_the_zipf_window_follows_its_rule():
    counts = np.array([900, 500, 300, 200, 120, 80, 60, 40, 20, 10])
    assert zipf_window(counts, rank_min=2, rank_max=9, min_count=50) == (2, 7)
    assert zipf_window(counts, rank_min=2, rank_max=5, min_count=1) == (2, 5)
    with pytest.raises(ValueError, match="ranks from 5"):
        zipf_window(counts, rank_min=5, rank_max=9, min_count=100)


@pytest.mark.parametrize("a,seed", [(0.8, 1), (1.1, 2), (1.5, 3)])
def test_zipf_recovers_a_planted_exponent(a, seed):
    docs, rng = zipf_documents(a, seed=seed)
    fits, sorted_counts = fit_zipf(ngram_counts(docs, 1), n_boot=200, rng=rng)
    assert np.all(np.diff(sorted_counts) <= 0) and sorted_counts.sum() == 100 * 1000
    for fit in fits.values():
        assert fit.low < fit.estimate < fit.high
        # within the interval's own width of the truth: about 4 standard errors
        assert abs(fit.estimate - a) <= fit.high - fit.low, fit
        assert fit.window[0] == 10 and sorted_counts[fit.window[1] - 1] >= 50
        assert fit.n_units == 100 and len(fit.replicates) == 200


def test_the_zipf_interval_covers_the_truth_at_about_its_rate():
    covered = []
    for seed in range(40):
        docs, rng = zipf_documents(1.0, seed=100 + seed, n_types=2000, n_docs=60, per_doc=800)
        fit = fit_zipf(ngram_counts(docs, 1), n_boot=150, rng=rng)[0]["mle"]
        covered.append(fit.low <= 1.0 <= fit.high)
    # nominal 0.95: 40 draws fall to 0.8 or below with probability 0.001
    assert np.mean(covered) > 0.8, np.mean(covered)


def test_the_correction_removes_a_bias_the_replicates_repeat():
    replicates = np.random.default_rng(0).normal(1.9, 0.1, 4000)  # the raw 2.0 is biased by -0.1
    fit = corrected_estimate("m", 2.0, replicates, level=0.9, window=(1, 5), n_units=10)
    assert fit.estimate == pytest.approx(2.1, abs=0.01)
    assert fit.bias == pytest.approx(-0.1, abs=0.01)
    assert fit.low == pytest.approx(2.1 - 0.1645, abs=0.01)
    assert fit.high == pytest.approx(2.1 + 0.1645, abs=0.01) and fit.n_points == 5


def test_chunk_moments_give_the_covariance_of_the_resampled_tokens(rng):
    x = rng.standard_normal((300, 5)) * [1, 2, 3, 4, 5] + 100.0
    moments = moments_of(x, 6)
    assert np.allclose(moments.covariance()[0], np.cov(x.T, bias=True))
    weights = np.array([[2, 0, 1, 0, 3, 0]])
    chosen = np.concatenate([part for part, w in zip(np.array_split(x, 6), weights[0])
                             for _ in range(w)])
    assert np.allclose(moments.covariance(weights)[0], np.cov(chosen.T, bias=True))


@pytest.mark.parametrize("g,seed", [(0.7, 1), (1.0, 2), (1.5, 3)])
def test_the_spectrum_fit_recovers_a_planted_decay(g, seed):
    first, rng = gaussian_moments(g, seed=seed)
    second, _ = gaussian_moments(g, seed=seed + 10)
    window = spectrum_window(48, eig_max=24)
    fits, spectra = fit_spectrum([first, second], window, n_boot=200, rng=rng)
    assert sorted(fits) == ["layer0", "layer1", "mean"] and window == (2, 24)
    assert fits["mean"].raw == pytest.approx((fits["layer0"].raw + fits["layer1"].raw) / 2)
    assert all(np.all(np.diff(values) <= 0) for values in spectra)
    for fit in fits.values():
        assert abs(fit.estimate - g) <= fit.high - fit.low, fit
        assert fit.n_units == 40 and fit.n_points == 23


def test_the_spectrum_interval_covers_the_truth_at_about_its_rate():
    covered = []
    for seed in range(40):
        moments, rng = gaussian_moments(1.2, seed=200 + seed, d=32, n=6000, n_chunks=30)
        fit = fit_spectrum([moments], (2, 16), n_boot=150, rng=rng)[0]["layer0"]
        covered.append(fit.low <= 1.2 <= fit.high)
    assert np.mean(covered) > 0.8, np.mean(covered)


def test_a_window_too_small_for_the_layer_is_refused():
    with pytest.raises(ValueError, match="fewer than 3"):
        spectrum_window(3, eig_min=2, eig_max=8)
    assert eigenvalues(np.diag([1.0, 3.0, 2.0])[None])[0].tolist() == [3.0, 2.0, 1.0]


def test_the_implied_exponent_is_the_closures_slope_at_beta():
    fit = corrected_estimate("m", 1.5, np.array([1.4, 1.5, 1.6]), level=0.5, window=(1, 3),
                             n_units=3)
    value, low, high = implied_exponent(fit, "P1")
    assert value == pytest.approx(1 / fit.estimate) and low == pytest.approx(1 / fit.high)
    assert high == pytest.approx(1 / fit.low)
    assert implied_exponent(fit, "A") == (1.0, 1.0, 1.0)
    flat = corrected_estimate("m", 0.9, np.array([0.6, 0.9, 0.95]), level=0.5, window=(1, 3),
                              n_units=3)
    value, low, high = implied_exponent(flat, "P1")
    assert np.isnan(value) and np.isnan(high) and low == pytest.approx(1 / flat.high)


def test_the_estimators_and_the_record_import_without_torch():
    code = BLOCK_TORCH + ("import empirics.analysis.importance, empirics.analysis.eigenspectrum\n"
                          "import empirics.records.importance\n"
                          "assert 'torch' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
