"""A matched pair's nulls: which records calibrate which, what a record and its nulls share,
the chance level they set under each calibration rule, and the count above it.

Two rules (docs/selection.md, "Counts calibrated against chance"):

- "best-partner-excess" (the default): the threshold is the q-quantile of every live
  neuron's best-partner r in the null (n + m values a seed, read from the per-chunk sums,
  whatever the number of mutual pairs the null forms), and the calibrated count is the
  pair's mutual pairs at or above it *minus* the null's mean count at or above it, so the
  chance pairs that clear the threshold are subtracted in expectation at every size;
- "mutual-quantile" (the rule before it): the threshold is the q-quantile of the null's
  mutual-pair r, and the count is the pairs at or above it.

The one home of these rules: `bridge.calibration` fits the calibrated counts with them, and
the neuron browser shows a run's nulls and its calibrated count with them (docs/selection.md
states the rule and its limits). Torch-free.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from empirics.records.match import MatchRecord
from empirics.records.pair import UNCOUNTED

#: The null that calibrates each kind of record, by what the count is calibrated against:
#: chance (the permutation null) or what untrained networks share (the untrained null).
CALIBRATORS = {"permuted": {"none": "permuted", "untrained": "untrained-permuted"},
               "untrained": {"none": "untrained"}}
#: What a calibrated count is calibrated against, as reports name it.
NULL_NAMES = {"permuted": "permutation null", "untrained": "untrained null"}
#: The quantile of the null's r (best partners or mutual pairs, by rule) that sets the
#: threshold by default.
NULL_QUANTILE = 0.99
#: The calibration rules; the first is the default. Comparisons saved before the rule was
#: recorded used "mutual-quantile".
CALIBRATIONS = ("best-partner-excess", "mutual-quantile")
CALIBRATION = CALIBRATIONS[0]
#: The rule of a calibrated Comparison saved before rules were named.
LEGACY_CALIBRATION = "mutual-quantile"


class MissingNull(LookupError):
    """A record has no null partner to calibrate it (the message names the record and the
    flag that makes the partner)."""


def null_threshold(nulls: Sequence[MatchRecord], quantile: float) -> float:
    """The `quantile` of the mutual-pair correlations of the null records, pooled."""
    r = np.concatenate([null.pairs["r"] if null.pairs else np.zeros(0) for null in nulls])
    if len(r) == 0:
        first = nulls[0]
        raise MissingNull(f"the {first.null} null of {first.model_a} x {first.model_b} has no "
                          "mutual pairs, so it gives no chance level to calibrate against")
    return float(np.quantile(r, quantile))


def best_partner_r(record: MatchRecord, weights: np.ndarray | None = None) -> np.ndarray:
    """Every neuron's best-partner r, shape (B, n + m) (A's neurons, then B's), from the
    record's per-chunk sums under each row of chunk-group `weights` (None: the whole stream,
    B = 1); -inf for a neuron without a live partner (a dead neuron).

    Notes
    -----
    Each neuron's kept candidates are edges of the per-chunk graph, so the largest r of its
    edges is its best partner's r (exact on the whole stream; empirics/records/chunks.py).
    A record without per-chunk sums (`--groups 0`) raises `MissingNull`.
    """
    if not record.chunks:
        raise MissingNull(f"the {record.null} run of {record.model_a} x {record.model_b} kept no "
                          "per-chunk sums, from which the best-partner rule reads every "
                          "neuron's best partner (re-run it with --groups > 0, or calibrate "
                          "with --calibration mutual-quantile)")
    stats = record.chunk_stats()
    r = stats.correlations(weights)
    n = stats.sum_a.shape[-1]
    best = np.full((len(r), n + stats.sum_b.shape[-1]), -np.inf)
    for owner, offset in ((stats.edge_a, 0), (stats.edge_b, n)):
        order = np.argsort(owner, kind="stable")
        owners, starts = np.unique(owner[order], return_index=True)
        best[:, offset + owners] = np.maximum.reduceat(r[:, order], starts, axis=1)
    return best


def partner_threshold(best: Sequence[np.ndarray], quantile: float) -> np.ndarray:
    """The `quantile` of the live neurons' best-partner r of the nulls, pooled: one per row
    of the (B, n + m) arrays in `best` (one array a null)."""
    pooled = np.concatenate(best, axis=1)
    pooled = np.where(np.isfinite(pooled), pooled, np.nan)
    if np.isnan(pooled).all(axis=1).any():
        raise MissingNull("the null has no live neuron, so it gives no chance level")
    return np.nanquantile(pooled, quantile, axis=1)


def chance_level(nulls: Sequence[MatchRecord], quantile: float, rule: str) -> float:
    """The threshold of a calibrated count under `rule` (`CALIBRATIONS`), from the null
    records pooled."""
    if rule == "mutual-quantile":
        return null_threshold(nulls, quantile)
    if rule != "best-partner-excess":
        raise ValueError(f"the calibration rule must be one of {', '.join(CALIBRATIONS)}, "
                         f"got {rule!r}")
    return float(partner_threshold([best_partner_r(null) for null in nulls], quantile)[0])


def expected_chance(nulls: Sequence[MatchRecord], threshold: float) -> float:
    """The nulls' mean count of mutual pairs at or above `threshold`: the chance pairs a
    pair is expected to hold above it."""
    return float(np.mean([count_above(null, threshold) for null in nulls]))


def count_above(record: MatchRecord, threshold: float) -> int:
    """The record's mutual pairs with r at or above `threshold` (its calibrated count)."""
    return int(np.count_nonzero(record.pairs["r"] >= threshold)) if record.pairs else 0


def partner_key(record: MatchRecord, against: str) -> str:
    """What a record and its nulls share: the config but for the null, the options that
    change no number and the seed where it only draws the null (the permutation of trained
    weights; the weights of an untrained null), so that several seeds pool into one level.
    Against the untrained null the weights' identities (and the capture manifest that repeats
    them) differ by construction: the models must agree by name, the inputs by sha256. What
    the engine states of each result (`guarantee`: its certificate's counts) differs too."""
    drop = {"null", "guarantee", *UNCOUNTED}
    if against == "untrained":  # the same models by name; their weights are the difference
        drop |= {"init", "seed", "weights", "capture"}
    elif record.config.get("init") != "random":
        drop |= {"seed"}
    return repr(sorted((k, v) for k, v in record.config.items() if k not in drop))


def null_partners(record: MatchRecord, found: Sequence[tuple], against: str) -> list[tuple]:
    """The (path, record) pairs of `found` that are `record`'s null against `against` (the
    null that calibrates its kind, with the same `partner_key`); [] when none is, or when
    `record` is itself a null."""
    wanted = CALIBRATORS[against].get(record.null)
    if wanted is None:
        return []
    key = partner_key(record, against)
    return [(path, other) for path, other in found
            if other.null == wanted and partner_key(other, against) == key]
