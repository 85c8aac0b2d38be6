"""The headline power-law fit's variance model, vectorised over rows: OLS slopes of log R on
log N with a standard error from var(log R_i) = phi / mu_i + tau^2, counting noise plus a
multiplicative scatter between models, both fitted to the residuals (`het_slopes`).

`bridge.powerlaw.fit_power_law_het` is one row of it; a Comparison reads the fitted
dispersion from it (`bridge.comparison`), and the coverage study (docs/coverage.md) runs it
over many rows at once.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

#: Grid over the share of the counting-noise part in the residual variance, then golden-section
#: steps inside the best grid cell (`het_slopes`).
HET_GRID, HET_STEPS = 101, 40


class HetRows(NamedTuple):
    """Per-row results of `het_slopes`, arrays of the rows' shape: the OLS exponent, its
    standard error, log a, the counting-noise dispersion phi (count units) and the scatter
    tau^2 of var(log R_i) = phi / mu_i + tau^2."""

    alpha: np.ndarray
    se: np.ndarray
    log_prefactor: np.ndarray
    dispersion: np.ndarray
    scatter: np.ndarray


def het_slopes(log_n, log_count) -> HetRows:
    """OLS slopes of log R on log N with standard errors from a counting + scatter variance.

    Parameters
    ----------
    log_n, log_count : arrays (..., n_sizes), broadcast against each other; rows are
        independent fits (at least 3 distinct sizes each).

    Returns
    -------
    HetRows: alpha (the OLS slope), se, log_prefactor, dispersion phi (counting noise relative
    to Poisson, in the counts' units) and scatter tau^2, one of each per row.

    Notes
    -----
    var(log R_i) = phi / mu_i + tau^2, mu_i the OLS-fitted count (not the observed one, whose
    noise would then set its own weight). The OLS residuals r = M log R (M = I - H) have
    E r_i^2 = e_i = sum_j M_ij^2 (phi / mu_j + tau^2); phi and tau^2 >= 0 minimise
    sum(log e_i + r_i^2 / e_i), the Gaussian pseudo-likelihood of the residuals. Written
    e_i = s (f d1_i + (1 - f) d0_i), d1 the counting shape (divided by its largest entry) and
    d0 the scatter shape, the best s has a closed form and f in [0, 1] is found on a grid
    refined by golden section: no starting point, and no tolerance that depends on the units
    of the counts. (Iterating the weighted moment equations instead can cycle between the two
    edge solutions.) Then
    se^2 = sum_i c_i^2 (phi / mu_i + tau^2) with c = (x - mean x) / Sxx, the OLS weights.
    Rows with zero residuals (an exact power law) get phi = tau^2 = 0 and se = 0.
    """
    x, y = np.broadcast_arrays(np.asarray(log_n, dtype=np.float64),
                               np.asarray(log_count, dtype=np.float64))
    xc = x - x.mean(axis=-1, keepdims=True)
    sxx = np.sum(xc * xc, axis=-1, keepdims=True)
    alpha = np.sum(xc * y, axis=-1, keepdims=True) / sxx
    log_a = y.mean(axis=-1, keepdims=True) - alpha * x.mean(axis=-1, keepdims=True)
    fitted = log_a + alpha * x
    inv_mu = np.exp(-fitted)
    count_shape, scatter_shape = _residual_shapes(xc, sxx, inv_mu)
    unit = count_shape.max(axis=-1, keepdims=True)
    share, scale = _fit_variance_share((y - fitted) ** 2, count_shape / unit, scatter_shape)
    dispersion, scatter = scale * share / unit, scale * (1.0 - share)
    variance = np.sum((xc / sxx) ** 2 * (dispersion * inv_mu + scatter), axis=-1)
    return HetRows(alpha[..., 0], np.sqrt(variance), log_a[..., 0], dispersion[..., 0],
                   scatter[..., 0])


def _residual_shapes(xc, sxx, inv_mu) -> tuple[np.ndarray, np.ndarray]:
    """E r_i^2 per unit phi (sum_j M_ij^2 / mu_j) and per unit tau^2 (M_ii) of OLS residuals."""
    k = xc.shape[-1]
    hat = 1.0 / k + xc[..., :, None] * xc[..., None, :] / sxx[..., None]
    squared = (np.eye(k) - hat) ** 2
    return np.einsum("...ij,...j->...i", squared, inv_mu), 1.0 - 1.0 / k - xc**2 / sxx


def _fit_variance_share(r2, count_shape, scatter_shape) -> tuple[np.ndarray, np.ndarray]:
    """Share f and scale s (arrays (..., 1)) maximising the pseudo-likelihood of r2 under
    E r2 = s (f count_shape + (1 - f) scatter_shape); s = 0 where r2 is all zero."""
    k = r2.shape[-1]
    total = r2.mean(axis=-1, keepdims=True)
    exact = total == 0
    r2 = np.where(exact, 1.0, r2 / np.where(exact, 1.0, total))

    def objective(share):  # share (..., m) -> (..., m)
        mix = share[..., None] * count_shape[..., None, :] + (
            1.0 - share[..., None]) * scatter_shape[..., None, :]
        return np.sum(np.log(mix), axis=-1) + k * np.log(np.mean(r2[..., None, :] / mix, -1))

    grid = np.linspace(0.0, 1.0, HET_GRID)
    best = np.argmin(objective(np.broadcast_to(grid, r2.shape[:-1] + grid.shape)), axis=-1)
    low = grid[np.maximum(best - 1, 0)][..., None]
    high = grid[np.minimum(best + 1, HET_GRID - 1)][..., None]
    refined = _golden_min(objective, low, high)
    share = np.where(objective(refined) < objective(grid[best][..., None]), refined,
                     grid[best][..., None])
    mix = share * count_shape + (1.0 - share) * scatter_shape
    scale = np.mean(r2 / mix, axis=-1, keepdims=True) * total
    return share, np.where(exact, 0.0, scale)


def _golden_min(objective, low, high):
    """Golden-section search for the minimum of `objective` in [low, high], elementwise."""
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    for _ in range(HET_STEPS):
        left, right = high - ratio * (high - low), low + ratio * (high - low)
        go_left = objective(left) < objective(right)
        low, high = np.where(go_left, low, left), np.where(go_left, right, high)
    return 0.5 * (low + high)
