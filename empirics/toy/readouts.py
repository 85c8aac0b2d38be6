"""The toy family's readouts of a matched pair (docs/theory.md, section 7): the Rosetta pairs
above rho*, R_neurons and R_features, redundancy and agreement of the dominant features, the
isolation of Rosetta and non-Rosetta neurons, and the exponent's bootstrap over seed pairs.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from empirics.engine.kernel import Matches
from theory.slopes import log_log_slopes


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


#: The fit rule used everywhere (theory.sweep.MIN_FIT_COUNT): widths whose mean count is >= 10.
MIN_FIT_COUNT = 10
#: A net failed to train when its evaluation loss exceeds FAILED_LOSS_FACTOR x the median of
#: the seeds of its width, when it leaves more than FAILED_TOP_ERROR of the top feature's
#: variance unexplained while the median seed of its width does not, or when its loss exceeds
#: FAILED_WIDER_FACTOR x that of the next narrower net of its seed.
FAILED_LOSS_FACTOR = 2.0
FAILED_TOP_ERROR = 0.5
FAILED_WIDER_FACTOR = 1.1


def failed_instances(eval_loss, top_error) -> np.ndarray:
    """Which nets (seed, width) failed to train, (S, W) bool, by the three rules above (the
    two that compare seeds need three of them): an outlier loss among the seeds, the top
    feature never learnt where the other seeds learnt it, a loss that rises with N."""
    eval_loss, top_error = np.asarray(eval_loss), np.asarray(top_error)
    failed = np.zeros(eval_loss.shape, dtype=bool)
    if eval_loss.shape[0] >= 3:
        failed |= eval_loss > FAILED_LOSS_FACTOR * np.median(eval_loss, axis=0, keepdims=True)
        failed |= ((top_error > FAILED_TOP_ERROR)
                   & (np.median(top_error, axis=0, keepdims=True) <= FAILED_TOP_ERROR))
    failed[:, 1:] |= eval_loss[:, 1:] > FAILED_WIDER_FACTOR * eval_loss[:, :-1]
    return failed


def excluded_pairs(pair_index, failed) -> np.ndarray:
    """(P, W) bool: the seed pairs (rows of seed positions, (P, 2)) one of whose nets failed."""
    pair_index = np.asarray(pair_index)
    return failed[pair_index[:, 0]] | failed[pair_index[:, 1]]


def fit_mask(counts, min_count: float = MIN_FIT_COUNT) -> np.ndarray:
    """The widths a count's exponent is fitted on: a mean over the kept rows >= min_count."""
    counts = np.asarray(counts, dtype=np.float64)
    finite = np.isfinite(counts)
    total = np.where(finite, counts, 0.0).sum(axis=0)
    return (finite.any(axis=0)) & (total >= min_count * np.maximum(finite.sum(axis=0), 1))


def row_bootstrap(widths, values, mask, *, rng: np.random.Generator, n_resamples: int = 2000,
                  level: float = 0.95) -> list[float]:
    """[estimate, low, high]: the slope of log mean value on log N over the widths in `mask`,
    with a percentile interval from resampling the finite rows of each width (seed pairs or
    seeds, (rows, W); NaN marks an excluded row) with replacement. NaN where fewer than two
    widths are fitted."""
    values = np.asarray(values, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool) & np.any(np.isfinite(values), axis=0)
    if mask.sum() < 2:
        return [float("nan")] * 3
    log_n = np.log(np.asarray(widths, dtype=np.float64)[mask])
    columns = [column[np.isfinite(column)] for column in values.T[mask]]
    means = np.array([column.mean() for column in columns])
    means_drawn = np.stack([rng.choice(column, size=(n_resamples, len(column))).mean(axis=1)
                            for column in columns], axis=1)
    estimate = float(log_log_slopes(log_n, np.log(means)))
    positive = np.all(means_drawn > 0, axis=1)
    slopes = log_log_slopes(log_n, np.log(np.where(means_drawn > 0, means_drawn, 1.0)))
    slopes = slopes[positive & np.isfinite(slopes)]
    if not len(slopes):
        return [estimate, float("nan"), float("nan")]
    tail = (1.0 - level) / 2.0
    return [estimate, *(float(q) for q in np.quantile(slopes, [tail, 1.0 - tail]))]


def pair_bootstrap(widths, counts, *, rng: np.random.Generator, n_resamples: int = 2000,
                   level: float = 0.95, min_count: float = MIN_FIT_COUNT) -> list[float]:
    """[estimate, low, high]: slope of log mean count over the widths whose mean count is
    >= min_count (the package's rule), percentile interval from resampling the seed pairs
    (rows of `counts`, (P, W); NaN: an excluded pair) with replacement within each width."""
    return row_bootstrap(widths, counts, fit_mask(counts, min_count), rng=rng,
                         n_resamples=n_resamples, level=level)
