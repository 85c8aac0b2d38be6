"""ToySweep: the toy family's counts and isolation over widths and seed pairs (written by
the toy family's pipeline, `python -m empirics.pipeline.toy`). Torch-free.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from runstore import Record

#: Per-width arrays of a ToySweep, each (pairs, widths).
PAIR_FIELDS = ("rosetta_neurons", "rosetta_features", "redundancy", "feature_agreement",
               "isolation_rosetta", "isolation_nonrosetta", "dead", "null_neurons",
               "null_max_correlation", "permuted_neurons", "permuted_max_correlation",
               "max_correlation")


@dataclasses.dataclass(frozen=True)
class ToySweep(Record):
    """Rosetta counts and isolation of the toy family over widths and seed pairs.

    `config` holds {"toy": ToyConfig.to_config(), "rho_star": float}. `pairs` (P, 2) are the
    seed ids of each matched pair; `per_pair` maps each name of `PAIR_FIELDS` to (P, W);
    `threshold_counts` (len(empirics.pipeline.toy.THRESHOLDS), P, W) counts R_neurons at each
    threshold;
    `final_loss` (S, W) the last logged training loss. `exponent_*` are (estimate, low, high)
    of the slope of log mean R on log N with the bootstrap interval over pairs.
    """

    kind: ClassVar[str] = "toy_sweep"
    version: ClassVar[int] = 2

    widths: np.ndarray
    pairs: np.ndarray
    per_pair: dict
    threshold_counts: np.ndarray
    final_loss: np.ndarray
    exponent_neurons: list
    exponent_features: list
    level: float

    def mean(self, name: str) -> np.ndarray:
        """Mean over seed pairs of a `PAIR_FIELDS` array, (W,) (NaN where all are NaN)."""
        values = self.per_pair[name]
        with np.errstate(invalid="ignore"):
            counts = np.sum(np.isfinite(values), axis=0)
            return np.where(counts > 0, np.nansum(values, axis=0) / np.maximum(counts, 1),
                            np.nan)
