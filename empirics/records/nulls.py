"""A matched pair's nulls: which records calibrate which, what a record and its nulls share,
the chance level their mutual-pair correlations set, and the count above it.

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
#: The quantile of the null's mutual-pair r that a calibrated count must clear by default.
NULL_QUANTILE = 0.99


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
