"""A family's records as points of a scaling series: grouped by their size N, the mean count
at each size, and the counts under resampling of the inputs (from the records' per-chunk
sums). Records are `empirics.records.pair.ScalingPoint`s: match records or anchor sets."""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Sequence, TypeVar

import numpy as np

from empirics.records.chunks import multinomial_weights
from empirics.records.guarantee import certified_down_to, exact_from, floor_text
from empirics.records.pair import ScalingPoint

R = TypeVar("R")

log = logging.getLogger(__name__)

#: Fewest chunk groups a data-level interval is drawn from: a multinomial resample of fewer
#: groups is mostly duplicates, and the mutual-pair count of a resample with duplicated
#: groups (fewer effective inputs, noisier correlations) is biased, so its percentiles need
#: not even bracket the count (measured: a count of 46 with the interval [46, 64] from 3).
MIN_CHUNK_GROUPS = 8


def group_by_size(records: Sequence[R], size: str = "neurons") -> dict[float, list[R]]:
    """Records keyed by their N (`pair_size`: the geometric mean of the two models' neurons
    or parameters), smallest first."""
    groups = defaultdict(list)
    for record in records:
        groups[record.pair_size(size)].append(record)
    return dict(sorted(groups.items()))


def mean_counts(groups: dict[float, list[ScalingPoint]]) -> np.ndarray:
    """The mean Rosetta count of the records at each size (e.g. over seed pairs)."""
    return np.array([np.mean([r.n_rosetta for r in rs]) for rs in groups.values()])


def family_points(groups: dict, *, replicates: int, rng: np.random.Generator):
    """Sizes, mean counts per size, and input-resampled counts (sizes x replicates) when
    every record kept per-chunk sums over the same number of groups, at least
    `MIN_CHUNK_GROUPS` (shared weights, so the replicates stay paired across sizes); else
    None, logged with the reason."""
    sizes = np.array(list(groups))
    counts = mean_counts(groups)
    n_groups = {r.n_chunk_groups for rs in groups.values() for r in rs}
    if len(n_groups) != 1 or 0 in n_groups:
        return sizes, counts, None
    g = n_groups.pop()
    if replicates < 1:
        return sizes, counts, None
    if g < MIN_CHUNK_GROUPS:
        log.warning("no data-level interval: the records kept %d chunk groups, fewer than "
                    "the %d a resample needs (match with more inputs or --groups)", g,
                    MIN_CHUNK_GROUPS)
        return sizes, counts, None
    weights = multinomial_weights(g, replicates, rng=rng)
    reps = np.array([np.mean([r.resampled_counts(weights) for r in rs], axis=0)
                     for rs in groups.values()])
    return sizes, counts, reps


def count_exactness(point) -> tuple[bool | None, str]:
    """Whether a point's count is certified exact (None: its record does not say), and why
    not in words ("" when it is). A match record's count is exact when its certified floor
    (`empirics.records.guarantee`) is at or below its own r threshold (-1 without one); a
    calibrated count (`bridge.calibration.CalibratedPoint`) when the floor is at or below its
    threshold and every null it is calibrated against is exact in whole (the threshold is a
    quantile of all their pairs). An anchor set states no guarantee of the matches it was
    built from: unknown."""
    record = getattr(point, "record", point)
    if not hasattr(record, "pairs"):
        return None, "an anchor set states no guarantee of the matches it was built from"
    guarantee = record.config.get("guarantee")
    threshold = getattr(point, "threshold", None)
    level = threshold if threshold is not None else (
        record.min_correlation if record.min_correlation is not None else -1.0)
    exact = exact_from(guarantee, level)
    if not exact:
        where = f"r >= {level:.3f}" if level > -1.0 else "the whole count"
        return exact, f"{where} not certified ({floor_text(certified_down_to(guarantee))})"
    loose = [null for null in getattr(point, "nulls", ()) if not count_exactness(null)[0]]
    if loose:
        return False, f"threshold from {len(loose)} null(s) whose counts are not certified exact"
    return True, ""


def inexact_points(found: Sequence[tuple]) -> list[str]:
    """One line per (path, point) of `found` whose count is not certified exact, naming the
    record and why (empty when every count is exact)."""
    lines = []
    for path, point in found:
        exact, why = count_exactness(point)
        if not exact:
            lines.append(f"{path}: {why}")
    return lines
