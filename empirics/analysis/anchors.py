"""Rosetta anchors: units of one anchor model matched in every other model of a set.

The original definition of a Rosetta neuron (docs/report.md, "Anchors"): given an anchor
model and models 1..m, each (anchor, i) pair is matched on its own (mutual nearest
neighbours, or mutual top-k, as in `empirics.match`); an anchor unit is a Rosetta anchor when
it has a mutual partner in *every* other model. The pairwise counts (units of the anchor
matched in model i) and the coverage histogram (units matched in exactly j of the m models)
are kept beside the anchor count. `AnchorRecord` reads like a MatchRecord for the bridge
(`n_rosetta`, sizes, `null`), so `python -m bridge.compare --anchors` fits anchor counts
against size as a second scaling series. Torch-free.

    python -m empirics.anchors --family toy --records runs/empirics/toy-beta1.5-... [--anchor NAME]
"""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import numpy as np

from empirics.records.anchors import AnchorRecord
from empirics.records.match import MatchRecord
from empirics.records.neurons import global_units, layer_units


def _oriented(record: MatchRecord, anchor: str):
    """(anchor index, partner layer, partner unit, r, other name, other layer sizes)."""
    p = record.pairs
    if record.model_a == anchor:
        side, other, sizes, other_sizes = "a", "b", record.layer_sizes_a, record.layer_sizes_b
        name = record.model_b
    elif record.model_b == anchor:
        side, other, sizes, other_sizes = "b", "a", record.layer_sizes_b, record.layer_sizes_a
        name = record.model_a
    else:
        raise ValueError(f"the match of {record.model_a} x {record.model_b} does not involve "
                         f"the anchor {anchor}")
    index = global_units(p[f"layer_{side}"], p[f"unit_{side}"], sizes)
    return (index, p[f"layer_{other}"], p[f"unit_{other}"], p["r"], name, list(sizes),
            list(other_sizes))


def _best_partners(index, layer, unit, r, n_neurons: int):
    """Per anchor unit: has a partner, best partner's layer/unit/r (highest r; the lower
    partner (layer, unit) on ties), number of partners."""
    order = np.lexsort((unit, layer, -r, index))
    index, layer, unit, r = index[order], layer[order], unit[order], r[order]
    first = np.ones(len(index), dtype=bool)
    first[1:] = index[1:] != index[:-1]
    best = {name: np.full(n_neurons, fill, dtype=dtype) for name, fill, dtype in
            (("layer", -1, np.int64), ("unit", -1, np.int64), ("r", np.nan, np.float64))}
    best["layer"][index[first]] = layer[first]
    best["unit"][index[first]] = unit[first]
    best["r"][index[first]] = r[first]
    best["count"] = np.bincount(index, minlength=n_neurons).astype(np.int64)
    return best


def find_anchors(records: Sequence[MatchRecord], anchor: str, *,
                 min_correlation: float | None = None, config: dict | None = None
                 ) -> AnchorRecord:
    """Intersect the mutual matches of (anchor, other_i) pairs through the anchor's units.

    Parameters
    ----------
    records : one MatchRecord per other model, each pairing `anchor` (either side) with it;
        all of the same family, null and k.
    anchor : the anchor model's name.
    min_correlation : drop pairs with r below it before intersecting (None: keep all).
    config : what produced the records (goes into the record's config).
    """
    oriented = _checked(records, anchor)
    sizes, names = oriented[0][5], [o[4] for o in oriented]
    n = int(sum(sizes))
    best = []
    for index, layer, unit, r, *_ in oriented:
        keep = r >= min_correlation if min_correlation is not None else np.ones(len(r), bool)
        best.append(_best_partners(index[keep], layer[keep], unit[keep], r[keep], n))
    matched = np.stack([b["count"] > 0 for b in best], axis=1)  # (n, m)
    hits = matched.sum(axis=1)
    chosen = np.flatnonzero(hits == len(records))
    layer, unit = layer_units(chosen, sizes)
    units = {"layer": layer.astype(np.int64), "unit": unit.astype(np.int64),
             "partner_layer": np.stack([b["layer"][chosen] for b in best], axis=1),
             "partner_unit": np.stack([b["unit"][chosen] for b in best], axis=1),
             "r": np.stack([b["r"][chosen] for b in best], axis=1),
             "n_partners": np.stack([b["count"][chosen] for b in best], axis=1)}
    return AnchorRecord(
        config=config or {}, family=records[0].family, anchor=anchor, others=names,
        null=records[0].null, k=records[0].k, min_correlation=min_correlation,
        size_anchor=float(records[0].size_a if records[0].model_a == anchor
                          else records[0].size_b),
        sizes_others=[float(r.size_b if r.model_a == anchor else r.size_a) for r in records],
        layer_sizes_anchor=sizes, layer_sizes_others=[o[6] for o in oriented],
        n_anchors=len(chosen), pairwise_counts=[int(c) for c in matched.sum(axis=0)],
        coverage=np.bincount(hits, minlength=len(records) + 1).astype(np.int64),
        anchors_per_layer=np.bincount(layer, minlength=len(sizes)).astype(np.int64),
        units=units)


def _checked(records: Sequence[MatchRecord], anchor: str) -> list[tuple]:
    """The records oriented from the anchor (`_oriented`), refusing a set that mixes
    families, nulls, k or the anchor's layers, or repeats a model."""
    if not records:
        raise ValueError(f"no match records for the anchor {anchor}")
    for field in ("family", "null", "k"):
        values = {getattr(r, field) for r in records}
        if len(values) > 1:
            raise ValueError(f"the matches of an anchor set must share their {field}; got "
                             f"{sorted(map(str, values))}")
    oriented = [_oriented(record, anchor) for record in records]
    sizes, names = oriented[0][5], [o[4] for o in oriented]
    for o in oriented:
        if o[5] != sizes:
            raise ValueError(f"the anchor {anchor} has layers {o[5]} in the match with "
                             f"{o[4]} but {sizes} in the match with {names[0]}")
    if len(set(names)) != len(names):
        raise ValueError(f"the anchor {anchor} is matched more than once with the same model "
                         f"({sorted(names)}); point --records at one run")
    return oriented


def anchor_sets(records: Sequence[MatchRecord], anchors: Sequence[str] = ()
                ) -> dict[str, list[int]]:
    """Which records form each anchor set: anchor name -> indices into `records`.

    Without `anchors`, every connected group of models (linked by matched pairs) gets one
    anchor: its model with the most partners (the first name in sorted order on ties).
    """
    partners = defaultdict(list)
    for i, record in enumerate(records):
        partners[record.model_a].append(i)
        partners[record.model_b].append(i)
    if anchors:
        missing = [a for a in anchors if a not in partners]
        if missing:
            raise ValueError(f"no match records involve {missing}; models with records: "
                             f"{sorted(partners)}")
        return {a: partners[a] for a in anchors}
    chosen, seen = {}, set()
    for model in sorted(partners):
        if model in seen:
            continue
        group = _component(model, partners, records)
        seen |= group
        best = min(group, key=lambda name: (-len(partners[name]), name))
        chosen[best] = partners[best]
    return chosen


def _component(start: str, partners: dict, records) -> set[str]:
    group, stack = {start}, [start]
    while stack:
        for i in partners[stack.pop()]:
            for name in (records[i].model_a, records[i].model_b):
                if name not in group:
                    group.add(name)
                    stack.append(name)
    return group
