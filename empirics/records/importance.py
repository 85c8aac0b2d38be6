"""ImportanceRecord: the importance exponent beta read from the data of one model and its
tokenizer, without the Rosetta counts (written by `python -m empirics.importance`;
docs/theory.md, "beta from the data"). Torch-free.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from runstore import Record
from runstore.tables import frame


@dataclasses.dataclass(frozen=True)
class ImportanceRecord(Record):
    """Decay exponents of one model's data, each with its interval and what it implies.

    `estimates` maps a name ("zipf-mle-1gram", "zipf-ols-2gram", "spectrum-layer0", ...,
    "spectrum-mean") to the estimate's fields (`ExponentEstimate.to_json`: method, estimate,
    low, high, level, window, n_points, n_units, n_boot) plus "implied_beta" ([estimate, low,
    high]: the beta each readout stands for) and "implied_exponent" ([slope, low, high] of
    log R vs log N under `closure`; NaN where beta <= 1). `sorted_counts` maps "<n>gram" to
    the corpus's type counts in decreasing order; `eigenvalues` maps "layer<l>" to that
    layer's covariance eigenvalues in decreasing order; `replicates` maps each estimate's
    name to its (n_boot,) bootstrap estimates. `tokenizer` names the tokenizer's class and
    the sha256 of its tokenizer.json; `config` holds the model's weights identity and the
    whole estimation settings.
    """

    kind: ClassVar[str] = "importance"
    version: ClassVar[int] = 1

    model: str
    architecture: str
    tokenizer: str
    corpus_sha256: str
    split: str
    closure: str
    n_documents: int
    n_tokens: int
    n_windows: int
    d_model: int
    layer_sizes: list
    estimates: dict
    sorted_counts: dict
    eigenvalues: dict
    replicates: dict

    def estimate(self, name: str) -> tuple[float, float, float]:
        """(estimate, low, high) of the named estimate."""
        found = self.estimates[name]
        return found["estimate"], found["low"], found["high"]

    def headline(self) -> dict[str, tuple[float, float, float]]:
        """The two headline readouts of beta: the token Zipf MLE and the layers' mean
        spectrum exponent (those present)."""
        names = {"zipf": "zipf-mle-1gram", "spectrum": "spectrum-mean"}
        return {key: self.estimate(name) for key, name in names.items()
                if name in self.estimates}

    @property
    def n_layers(self) -> int:
        return len(self.layer_sizes)

    def spectrum(self, layer: int) -> np.ndarray:
        """(d_layer,) eigenvalues of a layer's activation covariance, decreasing."""
        return self.eigenvalues[f"layer{layer}"]

    def to_frame(self):
        """One row per estimate (name, method, estimate, low, high, level, window_low,
        window_high, n_points, n_units, n_boot) with the beta it implies and the exponent of
        log R vs log N it implies under `closure` (each with its interval)."""
        rows = [(name, found) for name, found in sorted(self.estimates.items())]
        columns = {"name": [name for name, _ in rows]}
        for key in ("method", "estimate", "low", "high", "level"):
            columns[key] = [found[key] for _, found in rows]
        for side, at in (("low", 0), ("high", 1)):
            columns[f"window_{side}"] = [found["window"][at] for _, found in rows]
        for key in ("n_points", "n_units", "n_boot"):
            columns[key] = [found[key] for _, found in rows]
        for key in ("implied_beta", "implied_exponent"):
            for at, suffix in enumerate(("", "_low", "_high")):
                columns[key + suffix] = [found[key][at] for _, found in rows]
        return frame(columns)
