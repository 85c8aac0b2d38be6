"""The log-log slope: the OLS slope of log count on log size, the exponent of a power law.

One implementation for the allocation model's fitted exponent (theory.sweep), the toy
family's exponents and their bootstrap (empirics.toy.sweep) and the bridge's fits
(bridge.powerlaw, bridge.bootstrap).
"""

from __future__ import annotations

import numpy as np


def log_log_slopes(log_n: np.ndarray, log_count: np.ndarray,
                   mask: np.ndarray | None = None) -> np.ndarray:
    """OLS slopes of log_count on log_n along the last axis (broadcasting over the rest).

    Parameters
    ----------
    log_n, log_count : arrays (..., n_points); rows are independent fits.
    mask : optional bool array broadcastable to them: the points each row uses (entries
        outside the mask may hold anything, e.g. the log of a zero count).

    Returns
    -------
    array (...): the slope of each row; NaN where a row has fewer than two distinct log_n.

    Notes
    -----
    Centred sums (not the normal equations) keep the slope accurate when log N is far from 0.
    A row with one distinct size has no slope; NaN marks it for the caller to drop, without a
    division warning.
    """
    if mask is None:
        x = log_n - log_n.mean(axis=-1, keepdims=True)
        y = log_count - log_count.mean(axis=-1, keepdims=True)
        sxx = np.sum(x * x, axis=-1)
        sxy = np.sum(x * y, axis=-1)
        degenerate = sxx <= 1e-24 * np.max(np.abs(log_n), axis=-1) ** 2
        return np.where(degenerate, np.nan, sxy / np.where(degenerate, 1.0, sxx))
    log_n, log_count = np.broadcast_arrays(np.asarray(log_n, dtype=np.float64),
                                           np.asarray(log_count, dtype=np.float64))
    weight = np.broadcast_to(np.asarray(mask, dtype=bool), log_n.shape).astype(np.float64)
    log_n, log_count = np.where(weight > 0, log_n, 0.0), np.where(weight > 0, log_count, 0.0)
    n_points = np.maximum(weight.sum(axis=-1, keepdims=True), 1.0)
    x = (log_n - (weight * log_n).sum(axis=-1, keepdims=True) / n_points) * weight
    y = (log_count - (weight * log_count).sum(axis=-1, keepdims=True) / n_points) * weight
    sxx = np.sum(x * x, axis=-1)
    sxy = np.sum(x * y, axis=-1)
    scale = np.max(np.abs(log_n), axis=-1) ** 2
    degenerate = (sxx <= 1e-24 * scale) | (weight.sum(axis=-1) < 2)
    return np.where(degenerate, np.nan, sxy / np.where(degenerate, 1.0, sxx))


def log_log_slope(x, y) -> float:
    """The OLS slope of log y against log x (positive values; NaN with < 2 distinct x)."""
    return float(log_log_slopes(np.log(np.asarray(x, dtype=np.float64)),
                                np.log(np.asarray(y, dtype=np.float64))))


def positive_log_log_slopes(widths, counts) -> np.ndarray:
    """Slopes of log count on log width over each row's positive counts, (...) for counts
    (..., W); NaN for a row with fewer than two positive counts."""
    counts = np.asarray(counts, dtype=np.float64)
    positive = counts > 0
    with np.errstate(divide="ignore"):
        log_count = np.log(np.where(positive, counts, 1.0))
    log_n = np.log(np.asarray(widths, dtype=np.float64))
    return log_log_slopes(np.broadcast_to(log_n, counts.shape), log_count, positive)
