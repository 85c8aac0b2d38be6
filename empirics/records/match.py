"""MatchRecord: one matched model pair, the empirics stage's output (torch-free).

It holds the Rosetta count and the matched pairs with their layers, per-layer totals, dead
neurons, the re-check figures and, when the run kept them, the per-chunk statistics from which
`resampled_counts` recounts R under resampling of the inputs (the bridge's per-size error bars).
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import numpy as np

from empirics.records.chunks import ChunkStats, resampled_counts
from empirics.records.neurons import hook_name, layer_units
from empirics.records.pair import PairSizes, rosetta_fraction
from runstore import Record
from runstore.tables import frame


@dataclasses.dataclass(frozen=True)
class MatchRecord(PairSizes, Record):
    """`config` holds everything that produced the record (models, inputs, engine settings).

    `size_a`/`size_b` are parameter counts; `n_neurons_*` the matched neurons (all layers).
    `pairs` maps layer_a, unit_a, layer_b, unit_b (int64) and r (float64) to arrays over
    the mutual pairs; `null` is "none", "permuted", "untrained" or "untrained-permuted".
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
        """Build the record of an `empirics.engine.matching.Matches` result."""
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
        """R / N with N the pair's neurons (`pair_size`: the geometric mean of the two
        models' neurons, the N of the fits; `empirics.records.pair.rosetta_fraction`)."""
        return rosetta_fraction(self.n_rosetta, self.pair_size("neurons"))

    def summary(self) -> dict:
        """The record at a glance (JSON-ready): the pair, its neurons and tokens, R and R / N,
        the median r of the mutual pairs (None without pairs), dead neurons, the null."""
        r = self.pairs.get("r") if self.pairs else None
        return {"model_a": self.model_a, "model_b": self.model_b,
                "n_neurons_a": int(self.n_neurons_a), "n_neurons_b": int(self.n_neurons_b),
                "n_tokens": int(self.n_tokens), "n_rosetta": int(self.n_rosetta),
                "rosetta_fraction": float(self.rosetta_fraction),
                "median_r": float(np.median(r)) if r is not None and len(r) else None,
                "dead_a": int(self.dead_a), "dead_b": int(self.dead_b), "null": self.null}

    def to_frame(self):
        """The mutual pairs as a pandas DataFrame, one row per pair: layer_a, unit_a, layer_b,
        unit_b, r, and each side's TransformerLens hook name (`blocks.{layer}.mlp.hook_post`)
        as hook_a and hook_b."""
        names = ("layer_a", "unit_a", "layer_b", "unit_b", "r")
        columns = {name: np.asarray(self.pairs.get(name, ())) for name in names}
        for side in ("a", "b"):
            columns[f"hook_{side}"] = [hook_name(layer) for layer in columns[f"layer_{side}"]]
        return frame(columns)

    def __post_init__(self):
        counts = {"n_rosetta": self.n_rosetta, "n_tokens": self.n_tokens,
                  "n_neurons_a": self.n_neurons_a, "n_neurons_b": self.n_neurons_b,
                  "dead_a": self.dead_a, "dead_b": self.dead_b}
        for name, value in counts.items():
            if (isinstance(value, bool) or not isinstance(value, (int, float, np.integer))
                    or not math.isfinite(value) or value != int(value) or value < 0):
                raise ValueError(f"the match of {self.model_a} x {self.model_b}: {name} must "
                                 f"be a count (an integer >= 0), got {value!r}")
        for name in ("size_a", "size_b"):
            if not math.isfinite(getattr(self, name)) or getattr(self, name) < 0:
                raise ValueError(f"the match of {self.model_a} x {self.model_b}: {name} must "
                                 f"be a finite size, got {getattr(self, name)!r}")
        r = self.pairs.get("r") if self.pairs else None
        if r is not None and (len(r) != self.n_rosetta or not np.isfinite(r).all()):
            raise ValueError(f"the match of {self.model_a} x {self.model_b}: {len(r)} pair "
                             f"correlations for n_rosetta = {self.n_rosetta}, or some not "
                             "finite")

    @property
    def n_chunk_groups(self) -> int:
        """Chunk groups with tokens whose sums the run kept (0 when none)."""
        return int(np.count_nonzero(self.chunks["tokens"])) if self.chunks else 0

    def chunk_stats(self) -> ChunkStats:
        """The per-chunk sums, without groups that received no batch (see `nonempty`)."""
        if not self.chunks:
            raise ValueError(f"the match record of {self.model_a} x {self.model_b} kept no "
                             "per-chunk statistics; re-run the match with bootstrap groups")
        return ChunkStats(**self.chunks).nonempty()

    def resampled_counts(self, weights: np.ndarray) -> np.ndarray:
        """R under each row of chunk-group weights (see empirics.records.chunks), with the same k
        and correlation threshold as the match."""
        return resampled_counts(self.chunk_stats(), weights, k=self.k,
                                min_correlation=self.min_correlation)
