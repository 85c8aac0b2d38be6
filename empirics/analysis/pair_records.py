"""The analyses of one matched pair as pure functions: records in, analysis records out.

Each builder takes a MatchRecord (plus, where needed, its examples and activation statistics
and per-neuron metrics computed elsewhere) and returns a record of
`empirics.records.analysis`; `python -m empirics.analyze` finds the inputs on disk and saves
the outputs. Neurons are indexed globally (layers concatenated in order), as in the engine.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Mapping, Sequence

import numpy as np

from empirics.analysis.depth import depth_profile
from empirics.analysis.robustness import budget_stability, mutual_topk_counts, pair_keys
from empirics.analysis.selectivity import activation_proxies, mean_interval, size_matched_control
from empirics.analysis.specialization import (
    category_enrichment,
    document_categories,
    sample_categories,
    summarize_enrichment,
)
from empirics.records.analysis import (
    ActivationStatsRecord,
    DepthRecord,
    SelectivityRecord,
    SpecializationRecord,
    StabilityRecord,
    TopKRecord,
    pair_fields,
)
from empirics.records.examples import ExamplesRecord
from empirics.records.match import MatchRecord
from empirics.records.neurons import global_units, neuron_layers
from empirics.records.pair import UNCOUNTED

SIDES = ("a", "b")


def rosetta_mask(match: MatchRecord, side: str) -> np.ndarray:
    """(neurons,) bool: the side's neurons that belong to a mutual pair."""
    sizes = getattr(match, f"layer_sizes_{side}")
    index = global_units(match.pairs[f"layer_{side}"], match.pairs[f"unit_{side}"], sizes)
    mask = np.zeros(int(sum(sizes)), dtype=bool)
    mask[index] = True
    return mask


def control_masks(match: MatchRecord, eligible: Mapping[str, np.ndarray], *,
                  rng: np.random.Generator) -> dict[str, np.ndarray]:
    """{"rosetta_a", "control_a", "rosetta_b", "control_b"}: Rosetta neurons and a
    size-matched non-Rosetta sample from the same layers, per side."""
    masks = {}
    for side in SIDES:
        rosetta = rosetta_mask(match, side)
        layers = neuron_layers(getattr(match, f"layer_sizes_{side}"))
        masks[f"rosetta_{side}"] = rosetta
        masks[f"control_{side}"] = size_matched_control(rosetta, layers, eligible[side],
                                                        rng=rng)
    return masks


def activation_metrics(stats: ActivationStatsRecord, examples: ExamplesRecord | None
                       ) -> dict[str, np.ndarray]:
    """{"<proxy>_a", "<proxy>_b"}: the activation proxies of both models."""
    metrics = {}
    for side in SIDES:
        found = getattr(stats, f"stats_{side}")
        top = getattr(examples, f"values_{side}") if examples is not None else None
        for name, values in activation_proxies(float(found["count"][0]), found["shift"],
                                               found["sums"], top).items():
            metrics[f"{name}_{side}"] = values
    return metrics


def selectivity_record(match: MatchRecord, metrics: Mapping[str, np.ndarray], *,
                       config: dict, rng: np.random.Generator, level: float = 0.95,
                       notes: dict | None = None) -> SelectivityRecord:
    """Rosetta vs size-matched control means of every metric ("<name>_a"/"<name>_b" arrays).

    A neuron is eligible for the control when all its metrics are finite, so every metric is
    summarised over one and the same control sample.
    """
    names = sorted({key[:-2] for key in metrics})
    eligible = {side: np.all([np.isfinite(metrics[f"{n}_{side}"]) for n in names], axis=0)
                for side in SIDES}
    masks = control_masks(match, eligible, rng=rng)
    summary = {}
    for name in names:
        summary[name] = {}
        for population in ("rosetta", "control"):
            parts = [metrics[f"{name}_{s}"][masks[f"{population}_{s}"]] for s in SIDES]
            summary[name][population] = mean_interval(np.concatenate(parts), rng=rng,
                                                      level=level)
            for side, part in zip(SIDES, parts):
                summary[name][f"{population}_{side}"] = mean_interval(part, rng=rng,
                                                                      level=level)
    return SelectivityRecord(config=config, **pair_fields(match),
                             metrics={k: np.asarray(v, dtype=np.float64)
                                      for k, v in metrics.items()},
                             masks=masks, summary=summary, judges={}, notes=notes or {},
                             level=level)


def specialization_record(match: MatchRecord, examples: ExamplesRecord, *, config: dict,
                          rng: np.random.Generator, categories: Mapping[str, str] | None = None,
                          level: float = 0.95) -> SpecializationRecord:
    """Category enrichment of the top samples of Rosetta and control neurons (both models).

    Neurons whose top-k values are all equal (dead, or constant on the inputs) have no
    top-activating samples to speak of and are left out of both populations.
    """
    names_by_input = document_categories(examples.inputs, categories)
    per_sample, names = sample_categories(examples.sample_table["input"], names_by_input)
    eligible = {side: _has_peaks(getattr(examples, f"values_{side}")) for side in SIDES}
    masks = control_masks(match, eligible, rng=rng)
    enrichment, summary = {}, {}
    for key, mask in masks.items():
        mask = mask & eligible[key[-1]]
        samples = getattr(examples, f"samples_{key[-1]}")[mask]
        enrichment[key] = category_enrichment(samples, per_sample, len(names))
    for population in ("rosetta", "control"):
        pooled = np.concatenate([enrichment[f"{population}_{s}"] for s in SIDES])
        summary[population] = summarize_enrichment(pooled, names, rng=rng, level=level)
    frequency = np.bincount(per_sample, minlength=len(names)) / len(per_sample)
    return SpecializationRecord(config=config, **pair_fields(match), categories=names,
                                frequency=frequency, enrichment=enrichment, summary=summary,
                                top_k=examples.k, level=level)


def _has_peaks(values: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.nanmax(values, axis=1) > np.nanmin(values, axis=1)


def depth_record(match: MatchRecord, *, config: dict, n_bins: int = 10) -> DepthRecord:
    """Depth profiles of both models of a pair."""
    profiles = {side: depth_profile(getattr(match, f"rosetta_per_layer_{side}"),
                                    getattr(match, f"layer_sizes_{side}"), n_bins)
                for side in SIDES}
    return DepthRecord(config=config, **pair_fields(match),
                       edges=np.linspace(0.0, 1.0, n_bins + 1),
                       share_a=profiles["a"][0], rate_a=profiles["a"][1],
                       share_b=profiles["b"][0], rate_b=profiles["b"][1],
                       n_layers_a=len(match.layer_sizes_a),
                       n_layers_b=len(match.layer_sizes_b))


def candidates_kept(match: MatchRecord) -> int:
    """Candidates per neuron of the run that wrote `match` (from its config)."""
    candidates = match.config.get("candidates")
    return max(match.k, candidates or match.k)


def topk_record(match: MatchRecord, ks: Sequence[int], *, config: dict) -> TopKRecord:
    """Mutual top-k counts for every k in `ks` from the record's candidate graph."""
    keep = candidates_kept(match)
    counts = mutual_topk_counts(match.chunk_stats(), ks, keep=keep,
                                min_correlation=match.min_correlation)
    return TopKRecord(config=config, **pair_fields(match), ks=np.asarray(ks, dtype=np.int64),
                      counts=counts, keep=keep)


def budget_groups(found: Sequence[tuple[str, MatchRecord]]) -> list[list[tuple[str, MatchRecord]]]:
    """Runs of one pair that differ only in their inputs (two budgets or more), each group
    ordered by tokens. Options that change no number (`UNCOUNTED`: the examples kept, the
    activation cache, where weights came from) and what the engine states of each result
    (`guarantee`) do not split a group; nor does the size of the documents' draw (its count
    and category mix), while its rule and seed do."""
    groups = defaultdict(list)
    for path, match in found:
        key = {k: v for k, v in match.config.items()
               if k not in ("inputs", "inputs_sha256", "capture", "guarantee", *UNCOUNTED)}
        if isinstance(key.get("corpus"), dict) and isinstance(key["corpus"].get("draw"), dict):
            draw = key["corpus"]["draw"]
            key["corpus"] = key["corpus"] | {"draw": {"rule": draw.get("rule"),
                                                      "seed": draw.get("seed")}}
        key |= {"record": [match.family, match.model_a, match.model_b, match.null,
                           match.layer_sizes_a, match.layer_sizes_b]}
        groups[repr(sorted(key.items()))].append((path, match))
    return [sorted(g, key=lambda item: item[1].n_tokens) for g in groups.values()
            if len({m.n_tokens for _, m in g}) > 1]


def stability_record(group: Sequence[tuple[str, MatchRecord]], *, config: dict
                     ) -> StabilityRecord:
    """Count and overlap of the pairs of one model pair across budgets (method "rerun")."""
    sets = [pair_keys(*(m.pairs[f] for f in ("layer_a", "unit_a", "layer_b", "unit_b")))
            for _, m in group]
    result = budget_stability(sets)
    last = group[-1][1]
    return StabilityRecord(config=config, **pair_fields(last), method="rerun",
                           n_tokens=np.array([m.n_tokens for _, m in group], dtype=np.float64),
                           counts=result["counts"], jaccard=result["jaccard"],
                           kept=result["kept"], sources=[str(p) for p, _ in group])
