"""AnchorRecord: the Rosetta anchors of one anchor model against the models it was matched
with (docs/report.md, "Anchors"). Torch-free.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from runstore import Record


@dataclasses.dataclass(frozen=True)
class AnchorRecord(Record):
    """Rosetta anchors of one anchor model against `others`.

    `units` maps "layer"/"unit" (R,) of the anchor's units and "partner_layer",
    "partner_unit", "r", "n_partners" (R, m) of their best mutual partner (highest r) in each
    other model, with the number of mutual partners there (> 1 only under mutual top-k).
    `pairwise_counts[i]` counts the anchor's units matched in model i; `coverage[j]` those
    matched in exactly j of the m models (`coverage[m] == n_anchors`).
    """

    kind: ClassVar[str] = "anchors"
    version: ClassVar[int] = 1

    family: str
    anchor: str
    others: list
    null: str
    k: int
    min_correlation: float | None
    size_anchor: float
    sizes_others: list
    layer_sizes_anchor: list
    layer_sizes_others: list
    n_anchors: int
    pairwise_counts: list
    coverage: np.ndarray
    anchors_per_layer: np.ndarray
    units: dict

    # The attributes bridge.compare reads from a MatchRecord: the anchor set counts as one
    # point whose N is the geometric mean of the anchor's size and the others' (for one other
    # model it is the pair's N).
    @property
    def n_rosetta(self) -> int:
        return self.n_anchors

    @property
    def n_neurons_a(self) -> int:
        return int(sum(self.layer_sizes_anchor))

    @property
    def n_neurons_b(self) -> float:
        return _geometric_mean([sum(sizes) for sizes in self.layer_sizes_others])

    @property
    def size_a(self) -> float:
        return self.size_anchor

    @property
    def size_b(self) -> float:
        return _geometric_mean(self.sizes_others)

    @property
    def chunks(self) -> dict:
        """No per-chunk sums: the bridge fits anchor counts without data-level bars."""
        return {}

    @property
    def model_names(self) -> list[str]:
        return [self.anchor, *self.others]


def _geometric_mean(values) -> float:
    return float(np.exp(np.mean(np.log(np.asarray(values, dtype=float)))))
