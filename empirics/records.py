"""MatchRecord: one matched model pair, the empirics stage's output (torch-free to read);
ToySweep: the toy family's counts and isolation over widths (written by `empirics.toy`).

It holds the Rosetta count and the matched pairs with their layers, per-layer totals, dead
neurons, the re-check figures and, when the run kept them, the per-chunk statistics from which
`resampled_counts` recounts R under resampling of the inputs (the bridge's per-size error bars).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from empirics.resample import ChunkStats, resampled_counts
from runstore import Record


@dataclasses.dataclass(frozen=True)
class MatchRecord(Record):
    """`config` holds everything that produced the record (models, inputs, engine settings).

    `size_a`/`size_b` are parameter counts; `n_neurons_*` the matched neurons (all layers).
    `pairs` maps layer_a, unit_a, layer_b, unit_b (int64) and r (float64) to arrays over
    the mutual pairs; `null` is "none", "permuted" or "untrained".
    """

    kind: ClassVar[str] = "match"
    version: ClassVar[int] = 1

    family: str
    model_a: str
    model_b: str
    size_a: float
    size_b: float
    null: str
    k: int
    min_correlation: float | None
    n_tokens: int
    n_neurons_a: int
    n_neurons_b: int
    n_rosetta: int
    dead_a: int
    dead_b: int
    layer_sizes_a: list
    layer_sizes_b: list
    pairs: dict
    rosetta_per_layer_a: np.ndarray
    rosetta_per_layer_b: np.ndarray
    rechecked: bool
    max_recheck_change: float | None
    changed_pairs: int
    chunks: dict  # ChunkStats.as_arrays(), or {} when the run kept none

    @classmethod
    def from_matches(cls, matches, *, config: dict, family: str, model_a: str,
                     model_b: str, size_a: float, size_b: float, layer_sizes_a,
                     layer_sizes_b, null: str = "none") -> MatchRecord:
        """Build the record of an `empirics.matching.Matches` result."""
        from empirics.matching import layer_units

        layer_a, unit_a = layer_units(matches.index_a, layer_sizes_a)
        layer_b, unit_b = layer_units(matches.index_b, layer_sizes_b)
        return cls(
            config=config, family=family, model_a=model_a, model_b=model_b,
            size_a=float(size_a), size_b=float(size_b), null=null, k=matches.k,
            min_correlation=matches.min_correlation,
            n_tokens=matches.n_tokens, n_neurons_a=int(sum(layer_sizes_a)),
            n_neurons_b=int(sum(layer_sizes_b)), n_rosetta=len(matches.index_a),
            dead_a=int(matches.dead_a.sum()), dead_b=int(matches.dead_b.sum()),
            layer_sizes_a=[int(s) for s in layer_sizes_a],
            layer_sizes_b=[int(s) for s in layer_sizes_b],
            pairs={"layer_a": layer_a.astype(np.int64), "unit_a": unit_a.astype(np.int64),
                   "layer_b": layer_b.astype(np.int64), "unit_b": unit_b.astype(np.int64),
                   "r": matches.correlation.astype(np.float64)},
            rosetta_per_layer_a=np.bincount(layer_a, minlength=len(layer_sizes_a)),
            rosetta_per_layer_b=np.bincount(layer_b, minlength=len(layer_sizes_b)),
            rechecked=matches.rechecked, max_recheck_change=matches.max_recheck_change,
            changed_pairs=matches.changed_pairs,
            chunks=matches.chunks.as_arrays() if matches.chunks is not None else {},
        )

    @property
    def rosetta_fraction(self) -> float:
        """R / N with N the smaller model's neuron count (a pair can hold at most that many)."""
        return self.n_rosetta / min(self.n_neurons_a, self.n_neurons_b)

    def chunk_stats(self) -> ChunkStats:
        if not self.chunks:
            raise ValueError(f"the match record of {self.model_a} x {self.model_b} kept no "
                             "per-chunk statistics; re-run the match with bootstrap groups")
        return ChunkStats(**self.chunks)

    def resampled_counts(self, weights: np.ndarray) -> np.ndarray:
        """R under each row of chunk-group weights (see empirics.resample), with the same k
        and correlation threshold as the match."""
        return resampled_counts(self.chunk_stats(), weights, k=self.k,
                                min_correlation=self.min_correlation)


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
    `threshold_counts` (len(empirics.toy.THRESHOLDS), P, W) counts R_neurons at each threshold;
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
