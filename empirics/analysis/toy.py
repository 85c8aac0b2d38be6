"""The toy family's readouts of a matched pair (docs/theory.md, section 7): the Rosetta pairs
above rho*, R_neurons and R_features, redundancy and agreement of the dominant features, the
isolation of Rosetta and non-Rosetta neurons, and the exponent's bootstrap over seed pairs.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from empirics.engine.matching import Matches
from theory.slopes import positive_log_log_slopes


def above(matches: Matches, rho_star: float) -> Matches:
    """The same matches restricted to pairs with r >= rho_star (the Rosetta neurons); the
    threshold is kept, so resampled counts apply it too."""
    keep = matches.correlation >= rho_star
    return dataclasses.replace(matches, index_a=matches.index_a[keep],
                               index_b=matches.index_b[keep],
                               correlation=matches.correlation[keep], min_correlation=rho_star)


def pair_statistics(rosetta: Matches, iso_a, iso_b, dominant_a, dominant_b) -> dict:
    """Counts and isolation of one matched pair at one width (numpy arrays of length N).

    Returns R_neurons, R_features (distinct dominant features of A's Rosetta neurons), the
    redundancy (most of A's Rosetta neurons sharing one dominant feature), the share of pairs
    whose two neurons have the same dominant feature, and the mean isolation of the Rosetta
    and of the alive non-Rosetta neurons of both nets.
    """
    ia, ib = rosetta.index_a, rosetta.index_b
    alive_a, alive_b = ~rosetta.dead_a, ~rosetta.dead_b
    alive_a[ia], alive_b[ib] = False, False
    rest = np.concatenate([iso_a[alive_a], iso_b[alive_b]])
    features = dominant_a[ia]
    return {
        "rosetta_neurons": float(len(ia)),
        "rosetta_features": float(len(np.unique(features))),
        "redundancy": float(np.bincount(features).max()) if len(ia) else 0.0,
        "feature_agreement": float(np.mean(features == dominant_b[ib])) if len(ia) else np.nan,
        "isolation_rosetta": (float(np.concatenate([iso_a[ia], iso_b[ib]]).mean())
                              if len(ia) else np.nan),
        "isolation_nonrosetta": float(rest.mean()) if len(rest) else np.nan,
        "dead": float(rosetta.dead_a.sum() + rosetta.dead_b.sum()),
        "max_correlation": float(rosetta.row_r[:, 0].max()),
    }


def pair_bootstrap(widths, counts, *, rng: np.random.Generator, n_resamples: int = 2000,
                   level: float = 0.95) -> list[float]:
    """[estimate, low, high]: slope of log mean count, percentile interval from resampling
    the seed pairs (rows of `counts`, (P, W)) with replacement within each width."""
    counts = np.asarray(counts, dtype=np.float64)
    estimate = float(positive_log_log_slopes(widths, counts.mean(axis=0)))
    index = rng.integers(0, counts.shape[0], size=(n_resamples, *counts.shape))
    means = np.take_along_axis(counts[None], index, axis=1).mean(axis=1)
    slopes = positive_log_log_slopes(widths, means)
    slopes = slopes[np.isfinite(slopes)]
    if not len(slopes):
        return [estimate, float("nan"), float("nan")]
    tail = (1.0 - level) / 2.0
    return [estimate, *(float(q) for q in np.quantile(slopes, [tail, 1.0 - tail]))]
