"""Records of the analyses run on matched pairs (written by `python -m empirics.analyze`).

Each analysis record describes one matched pair (`PairAnalysis`: family, both models, their
sizes and neuron counts, the null label), so the bridge and the figures group them by size
without opening the MatchRecord; `ActivationStatsRecord` is written by `empirics.match`
beside the match. All are readable without torch.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import ClassVar, TypeVar

import numpy as np

from empirics.records.match import MatchRecord
from empirics.records.pair import PairSizes
from runstore import Record, load_any
from runstore.tables import frame

#: Where each analysis's record lives inside a match run directory (`empirics.report` reads
#: the per-neuron arrays of "selectivity" from there).
ANALYSIS_DIRS = {name: name for name in ("selectivity", "specialization", "depth", "topk")}
STATS_DIR = "stats"

R = TypeVar("R", bound=Record)


@dataclasses.dataclass(frozen=True)
class ActivationStatsRecord(Record):
    """Per-neuron power sums of both models' activations over the match's stream
    (`empirics.analysis.selectivity.ActivationStats.result()`), neurons in the engine's order."""

    kind: ClassVar[str] = "activation_stats"
    version: ClassVar[int] = 1

    model_a: str
    model_b: str
    stats_a: dict
    stats_b: dict


@dataclasses.dataclass(frozen=True)
class PairAnalysis(PairSizes, Record):
    """Fields every analysis record shares: which pair, at which sizes."""

    family: str
    model_a: str
    model_b: str
    size_a: float
    size_b: float
    n_neurons_a: int
    n_neurons_b: int
    null: str


def _number(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.3g}"


def pair_fields(match: MatchRecord) -> dict:
    """The `PairAnalysis` fields of a MatchRecord."""
    return {name: getattr(match, name) for name in
            ("family", "model_a", "model_b", "size_a", "size_b", "n_neurons_a", "n_neurons_b",
             "null")}


@dataclasses.dataclass(frozen=True)
class SelectivityRecord(PairAnalysis):
    """Per-neuron selectivity metrics of both models, Rosetta and control populations.

    `metrics` maps "<metric>_a" / "<metric>_b" to (neurons,) arrays (NaN where a neuron has
    no value, e.g. dead); `masks` maps "rosetta_a", "control_a", ... to (neurons,) bool
    masks; `summary[metric][population]` = [mean, low, high] over both models' neurons of the
    population ("rosetta", "control") and `summary[metric][population + "_a"]` per side;
    `judges` maps a judge's name to its prompt and, per population and side, the judged
    neurons, their scores and their mean; `notes` says how the vocabulary projection was made
    (the final norm folded in, whether directions were centred).
    """

    kind: ClassVar[str] = "selectivity"
    version: ClassVar[int] = 1

    metrics: dict
    masks: dict
    summary: dict
    judges: dict
    notes: dict
    level: float

    def headline(self) -> str:
        """The first metric's mean over the Rosetta and the control neurons (both models)."""
        name = "activation_kurtosis" if "activation_kurtosis" in self.summary else min(
            self.summary)
        means = [_number(self.summary[name][p][0]) for p in ("rosetta", "control")]
        return f"mean {name}: Rosetta {means[0]}, control {means[1]}"

    def to_frame(self):
        """One row per neuron of either model (side "a" or "b", its global index): whether
        it is Rosetta or in the control sample, and every metric (NaN where it has none)."""
        names = sorted({key[:-2] for key in self.metrics})
        sides = [(side, len(self.masks[f"rosetta_{side}"])) for side in ("a", "b")]
        columns = {"side": np.repeat([s for s, _ in sides], [n for _, n in sides]),
                   "neuron": np.concatenate([np.arange(n) for _, n in sides])}
        for name in ("rosetta", "control", *names):
            source = self.masks if name in ("rosetta", "control") else self.metrics
            columns[name] = np.concatenate([source[f"{name}_{s}"] for s, _ in sides])
        return frame(columns)


@dataclasses.dataclass(frozen=True)
class SpecializationRecord(PairAnalysis):
    """Category enrichment of the top-activating samples (empirics.analysis.specialization).

    `categories` names the columns; `frequency` (C,) each category's share of the samples;
    `enrichment` maps "rosetta_a", "control_a", "rosetta_b", "control_b" to (neurons, C);
    `summary[population][category]` = [mean, low, high] over both models' neurons.
    """

    kind: ClassVar[str] = "specialization"
    version: ClassVar[int] = 1

    categories: list
    frequency: np.ndarray
    enrichment: dict
    summary: dict
    top_k: int
    level: float

    def headline(self) -> str:
        """The category most enriched among the Rosetta neurons' top samples, and its mean
        enrichment there and among the controls."""
        rosetta, control = self.summary["rosetta"], self.summary["control"]
        top = max(self.categories, key=lambda c: -math.inf if math.isnan(rosetta[c][0])
                  else rosetta[c][0])
        return (f"most enriched category {top}: Rosetta {_number(rosetta[top][0])}, "
                f"control {_number(control[top][0])}")

    def to_frame(self):
        """One row per category: its share of the samples, and the mean enrichment of the
        Rosetta and the control neurons' top samples with its interval (both models)."""
        columns = {"category": list(self.categories), "frequency": self.frequency}
        for population in ("rosetta", "control"):
            for i, suffix in enumerate(("", "_low", "_high")):
                columns[population + suffix] = [self.summary[population][c][i]
                                                for c in self.categories]
        return frame(columns)


@dataclasses.dataclass(frozen=True)
class DepthRecord(PairAnalysis):
    """Share and rate of Rosetta neurons per normalized-depth bin, for both models
    (empirics.analysis.depth); `edges` (n_bins + 1,) are the bins' edges on [0, 1]."""

    kind: ClassVar[str] = "depth_profile"
    version: ClassVar[int] = 1

    edges: np.ndarray
    share_a: np.ndarray
    share_b: np.ndarray
    rate_a: np.ndarray
    rate_b: np.ndarray
    n_layers_a: int
    n_layers_b: int

    def headline(self) -> str:
        """The Rosetta rate (share of a bin's neurons) of the shallowest and the deepest
        bin that holds layers, for both models."""
        ends = []
        for side in ("a", "b"):
            rate = np.asarray(getattr(self, f"rate_{side}"), dtype=float)
            rate = rate[np.isfinite(rate)]
            ends.append(f"{_number(rate[0])} -> {_number(rate[-1])}" if len(rate) else "-")
        return f"Rosetta rate, shallowest -> deepest bin: a {ends[0]}, b {ends[1]}"

    def to_frame(self):
        """One row per normalized-depth bin: its edges, and each model's share of its
        Rosetta neurons there and Rosetta rate (NaN for a bin that holds no layer)."""
        return frame({"depth_low": self.edges[:-1], "depth_high": self.edges[1:],
                      "share_a": self.share_a, "rate_a": self.rate_a,
                      "share_b": self.share_b, "rate_b": self.rate_b})


@dataclasses.dataclass(frozen=True)
class TopKRecord(PairAnalysis):
    """Mutual top-k counts recounted on the run's candidate graph (empirics.analysis.robustness)."""

    kind: ClassVar[str] = "topk"
    version: ClassVar[int] = 1

    ks: np.ndarray
    counts: np.ndarray
    keep: int

    def headline(self) -> str:
        """The count at the smallest and the largest k."""
        ends = sorted({0, len(self.ks) - 1})
        return "mutual top-k count " + ", ".join(
            f"k = {int(self.ks[i])}: {int(self.counts[i])}" for i in ends)

    def to_frame(self):
        """One row per k: the mutual top-k count."""
        return frame({"k": self.ks, "count": self.counts})


@dataclasses.dataclass(frozen=True)
class StabilityRecord(PairAnalysis):
    """Rosetta count and overlap of one pair across input budgets, ordered by `n_tokens`.

    `method` is "rerun" (separate matches on growing inputs: exact) or "graph" (one run's
    candidate graph with a part of its chunk groups: approximate); `sources` names the match
    records (rerun) or the weighted group counts (graph).
    """

    kind: ClassVar[str] = "stability"
    version: ClassVar[int] = 1

    method: str
    n_tokens: np.ndarray
    counts: np.ndarray
    jaccard: np.ndarray
    kept: np.ndarray
    sources: list

    def headline(self) -> str:
        """R at the smallest and the largest budget, and the pairs' overlap (Jaccard) between
        the two largest."""
        return (f"R {int(self.counts[0])} at {int(self.n_tokens[0])} tokens -> "
                f"{int(self.counts[-1])} at {int(self.n_tokens[-1])} ({self.method}); "
                f"Jaccard with the budget before {_number(float(self.jaccard[-1]))}")

    def to_frame(self):
        """One row per input budget: tokens, count, and the Jaccard overlap with and share
        kept of the budget before (NaN at the first)."""
        return frame({"n_tokens": self.n_tokens, "count": self.counts,
                      "jaccard": self.jaccard, "kept": self.kept})


#: The analysis records `python -m empirics.analyze` writes.
ANALYSIS_RECORDS = (DepthRecord, TopKRecord, SelectivityRecord, SpecializationRecord,
                    StabilityRecord)


def load_analysis(directory: str | Path) -> PairAnalysis:
    """The analysis record saved in `directory`, of whichever of `ANALYSIS_RECORDS` it is."""
    return load_any(directory, ANALYSIS_RECORDS)
