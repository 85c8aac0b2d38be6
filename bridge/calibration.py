"""Rosetta counts calibrated against chance.

Mutual nearest neighbours include pairs that arise by chance: with T tokens, n x m neurons and
heavy-tailed activations the best of m chance correlations is far from 0, and some of those
best partners are mutual. Their number grows with the sizes and shrinks with the tokens, so a
raw count can scale for no reason but chance. The calibrated count of a pair is measured
against the same pair's permutation null (B's inputs shuffled: the same models, tokens,
settings and activation marginals, with every alignment destroyed; several permutation seeds
pool) by one of two rules (`empirics.records.nulls.CALIBRATIONS`): by default the mutual pairs
at or above the q-quantile of the null's best-partner r of every live neuron, minus the
null's mean count above it ("best-partner-excess"); or the mutual pairs above the q-quantile
of the null's mutual-pair r ("mutual-quantile", the earlier rule). An untrained pair is
calibrated by its own permuted run ("untrained-permuted"). Against the untrained null instead
(`against="untrained"`), a trained pair is measured against what untrained networks of the
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
    CALIBRATION,
    CALIBRATIONS,
    CALIBRATORS,
    LEGACY_CALIBRATION,
    NULL_NAMES,
    MissingNull,
    best_partner_r,
    chance_level,
    count_above,
    expected_chance,
    partner_key,
    partner_threshold,
)

log = logging.getLogger(__name__)

#: The folder of a calibrated count's Comparison inside the raw count's, by what it is
#: calibrated against (`empirics.records.nulls.NULL_NAMES`), under the default rule; another
#: rule's folder adds its name (`calibrated_dir`), so the rules never overwrite each other.
CALIBRATED_DIRS = {"permuted": "calibrated", "untrained": "calibrated-untrained"}
#: The flags of empirics.match that make each null.
NULL_FLAGS = {"permuted": "--null permuted", "untrained-permuted": "--init random --null permuted",
              "untrained": "--init random (seeds pooled)"}


def calibrated_dir(against: str, rule: str) -> str:
    """The folder of the calibrated Comparison against `against` under `rule`."""
    base = CALIBRATED_DIRS[against]
    return base if rule == CALIBRATION else f"{base}-{rule}"


@dataclasses.dataclass(frozen=True)
class CalibratedPoint:
    """A match record calibrated by its null records `nulls` (found at `null_paths`) under
    `rule`: its mutual pairs with r >= `threshold`, less `chance` (the nulls' mean count at
    or above the threshold; 0 under "mutual-quantile", which subtracts nothing)."""

    record: MatchRecord
    threshold: float
    quantile: float
    nulls: tuple
    null_paths: tuple
    rule: str = LEGACY_CALIBRATION
    chance: float = 0.0

    @property
    def family(self) -> str:
        return self.record.family

    @property
    def null(self) -> str:
        return self.record.null

    @property
    def n_rosetta(self) -> float:
        return count_above(self.record, self.threshold) - self.chance

    @property
    def n_chunk_groups(self) -> int:
        groups = {self.record.n_chunk_groups, *(null.n_chunk_groups for null in self.nulls)}
        return groups.pop() if len(groups) == 1 else 0  # unpaired chunks: no resampling

    def pair_size(self, size: str = "neurons") -> float:
        return self.record.pair_size(size)

    def series_key(self) -> dict:
        return self.record.series_key() | {"calibrated": {
            "quantile": self.quantile, "null": self.nulls[0].null, "rule": self.rule}}

    def resampled_counts(self, weights: np.ndarray, batch: int = 32) -> np.ndarray:
        """The calibrated count under each row of chunk-group weights, the threshold (and,
        under "best-partner-excess", the nulls' count above it) recomputed from the nulls
        under the same weights: the null and the pair see the same batches, and resampling
        inputs raises chance correlations (fewer distinct tokens), so a fixed threshold
        would let chance pairs back in."""
        if not self.n_chunk_groups:
            raise ValueError(f"{self.record.model_a} x {self.record.model_b}: the pair and its "
                             "nulls kept per-chunk sums over different groups (or none)")
        counts = []
        for lo in range(0, len(weights), batch):
            rows = weights[lo:lo + batch]
            r, mutual = _resampled_pairs(self.record, rows)
            null_r = [_resampled_pairs(null, rows) for null in self.nulls]
            if self.rule == LEGACY_CALIBRATION:
                levels = [_mutual_quantile([nr[i][nm[i]] for nr, nm in null_r], self.quantile)
                          for i in range(len(rows))]
            else:
                levels = partner_threshold([best_partner_r(null, rows) for null in self.nulls],
                                           self.quantile)
            for i, level in enumerate(levels):
                chance = 0.0 if self.rule == LEGACY_CALIBRATION else np.mean(
                    [np.count_nonzero(nm[i] & (nr[i] >= level)) for nr, nm in null_r])
                counts.append(np.count_nonzero(mutual[i] & (r[i] >= level)) - chance)
        return np.array(counts)


def _mutual_quantile(null_r: list, quantile: float) -> float:
    chance = np.concatenate(null_r)
    return float(np.quantile(chance, quantile)) if len(chance) else np.inf


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
              against: str = "permuted", rule: str = CALIBRATION
              ) -> tuple[list[tuple[Path, CalibratedPoint]], list[str]]:
    """The calibrated points of the records in `found` that `against` calibrates ("permuted":
    trained and untrained pairs, each against its permutation null; "untrained": trained
    pairs against the untrained pairs of the same models and settings) under `rule`, the
    partners of each pooled over their seeds; and one line per record that has none or whose
    nulls give no chance level (naming the flags that make them, or why). Records that are
    themselves the null are not calibrated. Each record is calibrated by its own nulls only,
    so a record without them never stops the others."""
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"the null quantile must lie in (0, 1), got {quantile}")
    if against not in CALIBRATORS:
        raise ValueError(f"counts are calibrated against {' or '.join(CALIBRATORS)}, not "
                         f"{against!r}")
    if rule not in CALIBRATIONS:
        raise ValueError(f"the calibration rule must be one of {', '.join(CALIBRATIONS)}, "
                         f"got {rule!r}")
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
        records = [r for _, r in partners]
        try:
            threshold = chance_level(records, quantile, rule)
        except MissingNull as reason:
            missing.append(f"{path}: {reason}")
            continue
        chance = 0.0 if rule == LEGACY_CALIBRATION else expected_chance(records, threshold)
        points.append((path, CalibratedPoint(record, threshold, quantile, tuple(records),
                                             tuple(str(p) for p, _ in partners), rule,
                                             chance)))
    return points, missing


def calibration_text(calibrated: dict) -> str:
    """What a calibrated count is, in words, from a Comparison's `config["calibrated"]`
    (a record saved before rules were named used "mutual-quantile")."""
    null = NULL_NAMES[calibrated.get("against", "permuted")]
    if calibrated.get("rule", LEGACY_CALIBRATION) == LEGACY_CALIBRATION:
        return f"above the {null}'s {calibrated['quantile']:g} quantile"
    return (f"in excess of the {null} above its best partners' {calibrated['quantile']:g} "
            "quantile")
