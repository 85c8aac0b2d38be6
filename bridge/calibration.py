"""Rosetta counts calibrated against chance.

Mutual nearest neighbours include pairs that arise by chance: with T tokens, n x m neurons and
heavy-tailed activations the best of m chance correlations is far from 0, and some of those
best partners are mutual. Their number grows with the sizes and shrinks with the tokens, so a
raw count can scale for no reason but chance. The calibrated count of a pair keeps its mutual
pairs whose r clears the q-quantile of the mutual-pair r of the same pair's permutation null
(B's inputs shuffled: the same models, tokens, settings and activation marginals, with every
alignment destroyed; several permutation seeds pool). An untrained pair is calibrated by its
own permuted run ("untrained-permuted"). Against the untrained null instead
(`against="untrained"`), a trained pair keeps the pairs above what untrained networks of the
same architectures share on the same inputs (their seeds pooled): a stricter floor, since
untrained networks share input-driven units that a permutation removes. docs/selection.md
states the rule and its limits.

`calibrate` pairs each record with its null (the configs equal but for the null; the rules,
the chance level and the count above it live in `empirics.records.nulls`, which the neuron
browser reads too), and
`CalibratedPoint` is a `ScalingPoint` the bridge fits exactly as it fits raw counts,
resampled counts included (under resampling of the inputs the threshold is resampled with
them: the pair and its nulls see the same batches).
Torch-free.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np

from bridge.replicates import count_once
from empirics.records.match import MatchRecord
from empirics.records.nulls import (
    CALIBRATORS,
    count_above,
    null_threshold,
    partner_key,
)

log = logging.getLogger(__name__)

#: The folder of a calibrated count's Comparison inside the raw count's, by what it is
#: calibrated against (`empirics.records.nulls.NULL_NAMES`).
CALIBRATED_DIRS = {"permuted": "calibrated", "untrained": "calibrated-untrained"}
#: The flags of empirics.match that make each null.
NULL_FLAGS = {"permuted": "--null permuted", "untrained-permuted": "--init random --null permuted",
              "untrained": "--init random (seeds pooled)"}


@dataclasses.dataclass(frozen=True)
class CalibratedPoint:
    """A match record whose count keeps the pairs with r >= `threshold` (the `quantile` of
    the mutual-pair r of its null records `nulls`, found at `null_paths`, pooled)."""

    record: MatchRecord
    threshold: float
    quantile: float
    nulls: tuple
    null_paths: tuple

    @property
    def family(self) -> str:
        return self.record.family

    @property
    def null(self) -> str:
        return self.record.null

    @property
    def n_rosetta(self) -> int:
        return count_above(self.record, self.threshold)

    @property
    def n_chunk_groups(self) -> int:
        groups = {self.record.n_chunk_groups, *(null.n_chunk_groups for null in self.nulls)}
        return groups.pop() if len(groups) == 1 else 0  # unpaired chunks: no resampling

    def pair_size(self, size: str = "neurons") -> float:
        return self.record.pair_size(size)

    def series_key(self) -> dict:
        return self.record.series_key() | {"calibrated": {"quantile": self.quantile,
                                                          "null": self.nulls[0].null}}

    def resampled_counts(self, weights: np.ndarray, batch: int = 32) -> np.ndarray:
        """The calibrated count under each row of chunk-group weights, the threshold
        recomputed from the nulls under the same weights: the null and the pair see the same
        batches, and resampling inputs raises chance correlations (fewer distinct tokens), so
        a fixed threshold would let chance pairs back in."""
        if not self.n_chunk_groups:
            raise ValueError(f"{self.record.model_a} x {self.record.model_b}: the pair and its "
                             "nulls kept per-chunk sums over different groups (or none)")
        counts = []
        for lo in range(0, len(weights), batch):
            rows = weights[lo:lo + batch]
            r, mutual = _resampled_pairs(self.record, rows)
            null_r = [_resampled_pairs(null, rows) for null in self.nulls]
            for i in range(len(rows)):
                chance = np.concatenate([nr[i][nm[i]] for nr, nm in null_r])
                level = np.quantile(chance, self.quantile) if len(chance) else np.inf
                counts.append(int(np.count_nonzero(mutual[i] & (r[i] >= level))))
        return np.array(counts)


def _resampled_pairs(record: MatchRecord, weights: np.ndarray):
    """r of every candidate edge under each row of `weights`, and the mask of mutual pairs."""
    from empirics.records.chunks import mutual_on_graph

    stats = record.chunk_stats()
    r = stats.correlations(weights)
    mutual = mutual_on_graph(stats.edge_a, stats.edge_b, r, record.k)
    if record.min_correlation is not None:
        mutual &= r >= record.min_correlation
    return r, mutual


def calibrate(found: Sequence[tuple[Path, MatchRecord]], *, quantile: float = 0.99,
              against: str = "permuted") -> tuple[list[tuple[Path, CalibratedPoint]], list[str]]:
    """The calibrated points of the records in `found` that `against` calibrates ("permuted":
    trained and untrained pairs, each against its permutation null; "untrained": trained
    pairs against the untrained pairs of the same models and settings), the partners of each
    pooled over their seeds; and one line per record that has none (naming the flags that
    make it). Records that are themselves the null are not calibrated."""
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"the null quantile must lie in (0, 1), got {quantile}")
    if against not in CALIBRATORS:
        raise ValueError(f"counts are calibrated against {' or '.join(CALIBRATORS)}, not "
                         f"{against!r}")
    calibrator = CALIBRATORS[against]
    nulls = defaultdict(list)
    for path, record in found:
        if record.null in calibrator.values():
            nulls[record.null, partner_key(record, against)].append((path, record))
    points, missing = [], []
    for path, record in found:
        if record.null not in calibrator:
            continue
        partners = nulls.get((calibrator[record.null], partner_key(record, against)))
        if partners:  # a null run saved twice is one draw (bridge.replicates)
            partners, same = count_once(partners)
            for text in same:
                log.warning("the null of %s: %s", path, text)
        if not partners:
            missing.append(f"{path}: no {calibrator[record.null]} run of {record.model_a} x "
                           f"{record.model_b} with the same settings (run empirics.match "
                           f"again with {NULL_FLAGS[calibrator[record.null]]})")
            continue
        threshold = null_threshold([r for _, r in partners], quantile)
        points.append((path, CalibratedPoint(record, threshold, quantile,
                                             tuple(r for _, r in partners),
                                             tuple(str(p) for p, _ in partners))))
    return points, missing
