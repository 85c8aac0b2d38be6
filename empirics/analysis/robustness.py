"""Robustness of the Rosetta count: mutual top-k for several k, and stability under the
input budget (paper Figures 25 and 33-35).

Mutual top-k from one run
-------------------------
`mutual_topk_counts` recounts the pairs for every k <= the candidates each neuron kept, from
a MatchRecord's candidate graph (its per-chunk statistics). This is exact: the graph holds
every neuron's best `keep` partners (lower index first among ties) plus edges that are some
column's candidates; those extra edges of a row rank below its kept ones, so an edge's rank
among a row's graph edges equals its rank in the full n x m matrix whenever that rank is
< keep, and mutual top-k only asks whether both ranks are < k <= keep. That argument holds
for the correlations that chose the candidates (the block passes); the counts use the
candidate pass's re-checked values (float32 per batch, float64 sums), the ones the engine's
own count uses, so k = record.k reproduces the record's count, and a full recount could only
differ where a re-check change (at most the record's `max_recheck_change`) reorders a near-tie
at a neuron's keep-th partner. k > keep needs a run with more candidates
(`empirics.match --candidates`).

Stability under the budget
--------------------------
`budget_stability` compares the pair sets of runs of one model pair that differ only in
their inputs (e.g. `empirics.match --docs 8, 16, 32`), ordered by tokens: count, Jaccard
overlap with the previous budget, and the share of the previous budget's pairs kept.
`graph_budget_counts` is a cheap single-run approximation: it recounts on the candidate graph
with only the first chunk groups weighted; neurons whose best partner on less data lies
outside the full-data graph are missed, so it is labelled "graph" in records, not exact.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from empirics.records.chunks import ChunkStats, mutual_on_graph


def mutual_topk_counts(stats: ChunkStats, ks: Sequence[int], *, keep: int,
                       min_correlation: float | None = None) -> np.ndarray:
    """Mutual top-k pair counts on the candidate graph, one per k (see the module notes).

    Parameters
    ----------
    stats : the record's per-chunk statistics (`MatchRecord.chunk_stats()`).
    ks : values of k, each at most `keep`.
    keep : candidates each neuron kept in the run (max(k, candidates) of the match).
    min_correlation : keep only pairs with r >= this value (the record's threshold).
    """
    too_large = [k for k in ks if k > keep or k < 1]
    if too_large:
        raise ValueError(f"mutual top-k for k = {too_large} needs 1 <= k <= the {keep} "
                         f"candidates the run kept; re-run empirics.match with --candidates "
                         f"{max(ks)}")
    r = stats.correlations()
    counts = []
    for k in ks:
        mutual = mutual_on_graph(stats.edge_a, stats.edge_b, r, k)[0]
        if min_correlation is not None:
            mutual &= r[0] >= min_correlation
        counts.append(int(mutual.sum()))
    return np.array(counts, dtype=np.int64)


def pair_keys(layer_a, unit_a, layer_b, unit_b) -> set[tuple[int, int, int, int]]:
    """The matched pairs as a set of (layer_a, unit_a, layer_b, unit_b)."""
    return set(zip(*(np.asarray(x, dtype=np.int64).tolist()
                     for x in (layer_a, unit_a, layer_b, unit_b))))


def budget_stability(pair_sets: Sequence[set]) -> dict[str, np.ndarray]:
    """Counts, Jaccard with the previous budget and share of its pairs kept (NaN at the first
    budget, and where the previous budget had no pairs), for pair sets ordered by budget."""
    counts = np.array([len(s) for s in pair_sets], dtype=np.float64)
    jaccard = np.full(len(pair_sets), np.nan)
    kept = np.full(len(pair_sets), np.nan)
    for i in range(1, len(pair_sets)):
        before, now = pair_sets[i - 1], pair_sets[i]
        union = len(before | now)
        jaccard[i] = len(before & now) / union if union else np.nan
        kept[i] = len(before & now) / len(before) if before else np.nan
    return {"counts": counts, "jaccard": jaccard, "kept": kept}


def graph_budget_counts(stats: ChunkStats, fractions: Sequence[float], *, k: int = 1,
                        min_correlation: float | None = None
                        ) -> tuple[np.ndarray, list[set]]:
    """Approximate stability from one run: the samples of each budget and the pair sets
    (global indices) on the candidate graph with only the first ceil(f G) groups weighted."""
    groups = stats.n_groups
    used = [max(1, int(np.ceil(f * groups))) for f in fractions]
    weights = np.array([[1.0 if g < u else 0.0 for g in range(groups)] for u in used])
    r = stats.correlations(weights)
    mutual = mutual_on_graph(stats.edge_a, stats.edge_b, r, k)
    if min_correlation is not None:
        mutual &= r >= min_correlation
    sets = [set(zip(stats.edge_a[row].tolist(), stats.edge_b[row].tolist())) for row in mutual]
    return weights @ stats.tokens, sets
