"""Depth profile: where in a model its Rosetta neurons sit (paper Figures 31-32).

Layer l of L has normalized depth (l + 1/2) / L, the centre of its slice of [0, 1], so models
of different depths share one axis. Each layer falls in the bin of [0, 1] that holds its
centre. Per bin, `share` is the bin's part of all the model's Rosetta neurons (the shares sum
to one) and `rate` the fraction of the bin's neurons that are Rosetta neurons (NaN for a bin
that holds no layer, which happens when a model has fewer layers than bins).
"""

from __future__ import annotations

import numpy as np


def normalized_depth(n_layers: int) -> np.ndarray:
    """(L,) centres (l + 1/2) / L of the layers' slices of [0, 1]."""
    if n_layers < 1:
        raise ValueError(f"a model needs at least one layer, got {n_layers}")
    return (np.arange(n_layers) + 0.5) / n_layers


def depth_bins(n_layers: int, n_bins: int) -> np.ndarray:
    """(L,) bin index of every layer for `n_bins` equal bins of [0, 1]."""
    if n_bins < 1:
        raise ValueError(f"at least one depth bin is needed, got {n_bins}")
    return np.minimum((normalized_depth(n_layers) * n_bins).astype(np.int64), n_bins - 1)


def depth_profile(rosetta_per_layer, layer_sizes, n_bins: int = 10
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(share, rate), each (n_bins,), of one model (see the module notes).

    Parameters
    ----------
    rosetta_per_layer : (L,) Rosetta neurons in each layer (`MatchRecord.rosetta_per_layer_*`).
    layer_sizes : (L,) neurons in each layer.

    A model without Rosetta neurons has NaN shares (there is nothing to distribute).
    """
    counts = np.asarray(rosetta_per_layer, dtype=np.float64)
    sizes = np.asarray(layer_sizes, dtype=np.float64)
    if counts.shape != sizes.shape or np.any(counts > sizes) or np.any(counts < 0):
        raise ValueError(f"Rosetta counts per layer {counts.tolist()} do not fit layers of "
                         f"sizes {sizes.tolist()}")
    bins = depth_bins(len(sizes), n_bins)
    in_bin = np.bincount(bins, weights=counts, minlength=n_bins)
    neurons = np.bincount(bins, weights=sizes, minlength=n_bins)
    total = counts.sum()
    share = in_bin / total if total > 0 else np.full(n_bins, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(neurons > 0, in_bin / neurons, np.nan)
    return share, rate
