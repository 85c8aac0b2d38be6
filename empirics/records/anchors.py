"""AnchorRecord: the Rosetta anchors of one anchor model against the models it was matched
with (docs/report.md, "Anchors"). Torch-free.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from empirics.records.pair import check_size, geometric_mean
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

    # A point of a scaling series (empirics.records.pair.ScalingPoint): the anchor set
    # counts as one point whose N is the geometric mean of the anchor's size and the
    # others' (for one other model it is the pair's N).
    @property
    def n_rosetta(self) -> int:
        return self.n_anchors

    @property
    def n_chunk_groups(self) -> int:
        """No per-chunk sums: the bridge fits anchor counts without data-level bars."""
        return 0

    def pair_size(self, size: str = "neurons") -> float:
        if check_size(size) == "neurons":
            anchor = sum(self.layer_sizes_anchor)
            others = [sum(sizes) for sizes in self.layer_sizes_others]
        else:
            anchor, others = self.size_anchor, self.sizes_others
        return geometric_mean([anchor, geometric_mean(others)])

    def resampled_counts(self, weights: np.ndarray) -> np.ndarray:
        raise ValueError(f"the anchor set of {self.anchor} kept no per-chunk statistics")

    def series_key(self) -> dict:
        return {"family": self.family, "k": self.k, "min_correlation": self.min_correlation,
                "others": len(self.others)}

    @property
    def model_names(self) -> list[str]:
        return [self.anchor, *self.others]
