"""The decay exponent of a layer's activation covariance spectrum, lambda_i ∝ i^-g, with a
bootstrap interval over chunks of tokens (docs/theory.md, "beta from the data"). Torch-free:
it reads per-chunk moments (`ChunkMoments`, accumulated by `empirics.analysis.spectrum`).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from empirics.analysis.importance import MIN_POINTS, ExponentEstimate, corrected_estimate
from theory.slopes import log_log_slopes

#: Bootstrap replicates whose covariance matrices are formed at once (memory bound).
BOOT_BATCH = 50


@dataclasses.dataclass(frozen=True)
class ChunkMoments:
    """One layer's activation moments per chunk of tokens, about a fixed shift.

    counts (C,) tokens per chunk; sums (C, d) the sums of x - shift; products (C, d, d) the
    sums of (x - shift)(x - shift)^T, all float64. The shift (any fixed vector near the mean,
    e.g. the first batch's mean) keeps the raw second moments free of cancellation.
    """

    counts: np.ndarray
    sums: np.ndarray
    products: np.ndarray

    def covariance(self, weights: np.ndarray | None = None) -> np.ndarray:
        """(B, d, d) covariance of the tokens with chunk c taken weights[b, c] times (the
        whole data once when `weights` is None: (1, d, d))."""
        if weights is None:
            weights = np.ones((1, len(self.counts)))
        weights = np.asarray(weights, dtype=np.float64)
        n = weights @ self.counts
        mean = (weights @ self.sums) / n[:, None]
        second = np.tensordot(weights, self.products, axes=1) / n[:, None, None]
        return second - mean[:, :, None] * mean[:, None, :]


def eigenvalues(covariance: np.ndarray) -> np.ndarray:
    """(..., d) eigenvalues of symmetric matrices, in decreasing order."""
    return np.linalg.eigvalsh(covariance)[..., ::-1]


def spectrum_window(width: int, *, eig_min: int = 2, eig_max: int) -> tuple[int, int]:
    """The eigenvalue indices fitted: eig_min .. min(eig_max, width).

    Notes
    -----
    The pipeline passes eig_max = d_model / 2: an MLP's neurons read the d_model-dimensional
    residual stream, so their pre-activations have rank <= d_model and the post-activation
    spectrum bends (steeply) near i = d_model; half of it keeps the window clear of that knee.
    Index 1 is left out as Zipf's head is: the largest direction of a trained layer is often a
    single outlier (a massive-activation direction).
    """
    high = min(eig_max, width)
    if eig_min < 1 or high - eig_min + 1 < MIN_POINTS:
        raise ValueError(f"the eigenvalue window {eig_min}..{high} of a layer of {width} "
                         f"neurons holds fewer than {MIN_POINTS} indices")
    return eig_min, high


def spectrum_slopes(values: np.ndarray, window: tuple[int, int]) -> np.ndarray:
    """g = minus the least-squares slope of log lambda_i on log i over the window, per row
    of (..., d) decreasing eigenvalues (non-positive ones left out)."""
    chosen = values[..., window[0] - 1:window[1]]
    positive = chosen > 0
    log_value = np.log(np.where(positive, chosen, 1.0))
    log_index = np.broadcast_to(np.log(np.arange(window[0], window[1] + 1.0)), chosen.shape)
    return -log_log_slopes(log_index, log_value, positive)


def fit_spectrum(layers: Sequence[ChunkMoments], window: tuple[int, int], *,
                 n_boot: int = 1000, level: float = 0.95, rng: np.random.Generator
                 ) -> tuple[dict[str, ExponentEstimate], list[np.ndarray]]:
    """The spectrum's decay exponent of every layer and their mean over the layers.

    Parameters
    ----------
    layers : the moments of each layer, over the same chunks.
    window : the inclusive eigenvalue indices fitted (`spectrum_window`), the same for all.
    n_boot : bootstrap replicates; each draws the chunks with replacement, the same draw
        for every layer, so the mean's interval holds the layers' dependence.
    level : coverage of the basic bootstrap interval (`corrected_estimate`).
    rng : the generator of the resamples.

    Returns
    -------
    ({"layer<l>": ..., "mean": ...} estimates, [(d_l,) decreasing eigenvalues per layer]).
    """
    n_chunks = len(layers[0].counts)
    if any(len(layer.counts) != n_chunks for layer in layers):
        raise ValueError("every layer's moments must come from the same chunks")
    spectra = [eigenvalues(layer.covariance())[0] for layer in layers]
    observed = np.array([spectrum_slopes(values, window) for values in spectra])
    replicates = []
    for start in range(0, n_boot, BOOT_BATCH):
        draws = rng.multinomial(n_chunks, np.full(n_chunks, 1 / n_chunks),
                                size=min(BOOT_BATCH, n_boot - start))
        replicates.append(np.stack([spectrum_slopes(eigenvalues(layer.covariance(draws)),
                                                    window) for layer in layers], axis=1))
    replicates = np.concatenate(replicates) if replicates else np.zeros((0, len(layers)))
    columns = {f"layer{i}": (observed[i], replicates[:, i]) for i in range(len(layers))}
    columns["mean"] = (observed.mean(), replicates.mean(axis=1))
    estimates = {name: corrected_estimate("spectrum-ols", float(value), draws, level=level,
                                          window=window, n_units=n_chunks)
                 for name, (value, draws) in columns.items()}
    return estimates, spectra
