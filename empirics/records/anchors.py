"""AnchorRecord: the Rosetta anchors of one anchor model against the models it was matched
with (docs/report.md, "Anchors"). Torch-free.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from empirics.records.neurons import hook_name
from empirics.records.pair import check_size, geometric_mean
from runstore import Record
from runstore.tables import frame


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

    def to_frame(self):
        """One row per anchor unit and other model (its best mutual partner there): layer,
        unit and hook (the anchor's), other, partner_layer, partner_unit, partner_hook, r and
        n_partners; the hooks are TransformerLens names (`blocks.{layer}.mlp.hook_post`)."""
        u, m = self.units, len(self.others)
        n = self.n_anchors
        layer, unit = (np.repeat(np.asarray(u[name], dtype=np.int64), m)
                       for name in ("layer", "unit"))
        partner = {name: np.asarray(u[name]).reshape(n, m).ravel()
                   for name in ("partner_layer", "partner_unit", "r", "n_partners")}
        return frame({"layer": layer, "unit": unit, "hook": [hook_name(x) for x in layer],
                      "other": np.tile(np.asarray(self.others, dtype=object), n),
                      "partner_layer": partner["partner_layer"],
                      "partner_unit": partner["partner_unit"],
                      "partner_hook": [hook_name(x) for x in partner["partner_layer"]],
                      "r": partner["r"], "n_partners": partner["n_partners"]})
