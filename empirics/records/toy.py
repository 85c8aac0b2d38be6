"""ToySweep: the toy family's counts and isolation over widths and seed pairs (written by
the toy family's pipeline, `empirics.toy.sweep`). Torch-free.
"""

from __future__ import annotations

import dataclasses
import json
from typing import ClassVar

import numpy as np

from runstore import Record
from runstore.tables import frame

#: The family name a toy pair's MatchRecord carries, and the key under which its config holds
#: the sweep's settings: the toy is told from other families by these alone.
TOY_FAMILY = "toy"
#: A toy pair's config fields that tell pairs of one series apart: its width and seeds (the
#: sweep's lists of them are left out of its settings too), its null and its inputs' count.
TOY_ONLY = ("width", "seeds", "null", "n_tokens")


def is_toy_pair(config: dict) -> bool:
    """Whether a pair's config is a toy pair's (it holds the sweep's settings)."""
    return TOY_FAMILY in config


def planned_widths(config: dict) -> list:
    """The widths of the toy sweep a record's config belongs to ([] for another family)."""
    return list((config.get(TOY_FAMILY) or {}).get("widths", []))


def _sweep_settings(config: dict) -> dict:
    return {k: v for k, v in config[TOY_FAMILY].items() if k not in ("widths", "seeds")}


def toy_network_identity(config: dict, side: int) -> str:
    """Which toy net side 0 (A) or 1 (B) of a toy pair is: the sweep's settings, its width
    and its seed, as canonical JSON (`empirics.records.pair.network_identity`)."""
    return json.dumps({TOY_FAMILY: _sweep_settings(config), "width": config.get("width"),
                       "seed": config.get("seeds", [None, None])[side]}, sort_keys=True)


def toy_series_key(config: dict) -> dict:
    """The series key of a toy pair (`empirics.records.pair.series_of`): the sweep's settings
    and the pair's config without what tells its pairs apart."""
    return {TOY_FAMILY: _sweep_settings(config),
            **{k: v for k, v in config.items() if k not in TOY_ONLY and k != TOY_FAMILY}}


#: Per-width arrays of a ToySweep, each (pairs, widths).
PAIR_FIELDS = ("rosetta_neurons", "rosetta_features", "redundancy", "feature_agreement",
               "isolation_rosetta", "isolation_nonrosetta", "dead", "null_neurons",
               "null_max_correlation", "permuted_neurons", "permuted_max_correlation",
               "max_correlation")
#: Per-net arrays of a ToySweep's `per_instance`, each (seeds, widths).
INSTANCE_FIELDS = ("eval_loss", "top_error", "rent_penalty", "failed", "price", "price_rms",
                   "redundancy_top")
#: Per-net profiles over feature ranks of a ToySweep's `profiles`, each (seeds, widths, n).
PROFILE_FIELDS = ("isolation", "redundancy")


@dataclasses.dataclass(frozen=True)
class ToySweep(Record):
    """Rosetta counts and isolation of the toy family over widths and seed pairs.

    `config` holds {"toy": ToyConfig.to_config(), "rho_star": float}. `pairs` (P, 2) are the
    seed ids of each matched pair; `per_pair` maps each name of `PAIR_FIELDS` to (P, W);
    `threshold_counts` (len(empirics.toy.pairs.THRESHOLDS), P, W) counts R_neurons at each
    threshold;
    `final_loss` (S, W) the last logged training loss. `exponent_*` are (estimate, low, high)
    of the slope of log mean R on log N with the bootstrap interval over pairs, fitted on the
    widths whose mean count is >= 10; pairs with a failed net are NaN in `per_pair` and left
    out. `per_instance` maps each name of `INSTANCE_FIELDS` to (S, W): the dense evaluation
    loss, the top feature's relative error, the rent paid, whether the net failed to train,
    the KKT price lambda fitted to its isolation profile and the fit's rms, the dedicated
    neurons of feature 1; `profiles` each name of `PROFILE_FIELDS` to (S, W, n): every
    feature's isolation and dedicated neurons (theory.toy.internals). `exponent_price` is
    the slope of log mean lambda on log N (-gamma) with the interval over seeds, and
    `exponent_internal` the count exponent gamma / beta that the nets' internals predict.
    """

    kind: ClassVar[str] = "toy_sweep"
    version: ClassVar[int] = 3

    widths: np.ndarray
    pairs: np.ndarray
    per_pair: dict
    threshold_counts: np.ndarray
    final_loss: np.ndarray
    exponent_neurons: list
    exponent_features: list
    level: float
    per_instance: dict = dataclasses.field(default_factory=dict)
    profiles: dict = dataclasses.field(default_factory=dict)
    exponent_price: list = dataclasses.field(default_factory=lambda: [float("nan")] * 3)
    exponent_internal: list = dataclasses.field(default_factory=lambda: [float("nan")] * 3)
    seconds: float = float("nan")

    def to_frame(self):
        """One row per seed pair and width: the seeds, N and every `PAIR_FIELDS` value (NaN
        for a pair left out because one of its nets failed)."""
        n_pairs, n_widths = len(self.pairs), len(self.widths)
        columns = {"seed_a": np.repeat(self.pairs[:, 0], n_widths),
                   "seed_b": np.repeat(self.pairs[:, 1], n_widths),
                   "width": np.tile(self.widths, n_pairs)}
        columns |= {name: np.asarray(self.per_pair[name]).reshape(-1)
                    for name in PAIR_FIELDS if name in self.per_pair}
        return frame(columns)

    def mean(self, name: str) -> np.ndarray:
        """Mean over seed pairs of a `PAIR_FIELDS` array, (W,) (NaN where all are NaN)."""
        values = self.per_pair[name]
        with np.errstate(invalid="ignore"):
            counts = np.sum(np.isfinite(values), axis=0)
            return np.where(counts > 0, np.nansum(values, axis=0) / np.maximum(counts, 1),
                            np.nan)


@dataclasses.dataclass(frozen=True)
class ToyStudy(Record):
    """The toy study's table (`empirics.toy.study`): one row per sweep, with its arm,
    beta, feature pool, training length, rent, the exponents of R_neurons, R_features and the
    one the nets' internals predict (each [estimate, low, high]), failed nets, runtime,
    convergence between the two lengths and the sweep's run directory. `n_cells` is the
    design's number of sweeps (more than the rows when the study was cut short)."""

    kind: ClassVar[str] = "toy_study"
    version: ClassVar[int] = 1

    rows: list
    n_cells: int

    def to_frame(self):
        """One row per sweep; each exponent as estimate, low and high columns."""
        exponents = ("exponent_neurons", "exponent_features", "exponent_internal",
                     "exponent_price")
        columns = {key: [row[key] for row in self.rows] for key in self.rows[0]
                   if key not in exponents} if self.rows else {}
        for key in exponents:
            for i, part in enumerate(("", "_low", "_high")):
                columns[key + part] = [row[key][i] for row in self.rows]
        return frame(columns)
