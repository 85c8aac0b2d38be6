"""Robustness: mutual top-k recounted from one run's candidate graph, and stability of the
pairs across input budgets."""

import numpy as np
import pytest

from empirics.analysis.pair_records import budget_groups, stability_record, topk_record
from empirics.analysis.robustness import (
    budget_stability,
    graph_budget_counts,
    mutual_topk_counts,
    pair_keys,
)
from empirics.engine.matching import match_neurons
from empirics.records.match import MatchRecord
from tests.empirics.conftest import brute_mutual, make_source


def _correlated(rng, tokens=2000, n=30, m=36, shared=12):
    a = rng.standard_normal((tokens, n))
    b = rng.standard_normal((tokens, m))
    # a graded mix so that second, third ... partners differ clearly from noise
    b[:, :shared] = a[:, :shared] + rng.uniform(0.3, 3.0, shared) * b[:, :shared]
    b[:, shared:2 * shared] += 0.5 * a[:, shared:2 * shared] + 0.3 * a[:, :shared]
    return a, b


def _record(a, b, *, candidates, tokens=None, groups=8, config=None):
    tokens = tokens or a.shape[0]
    found = match_neurons(make_source(a[:tokens], b[:tokens], range(100, tokens, 100)),
                          candidates=candidates, groups=groups)
    return MatchRecord.from_matches(found, config=config or {"candidates": candidates},
                                    family="test", model_a="a", model_b="b", size_a=1.0,
                                    size_b=1.0, layer_sizes_a=[a.shape[1]],
                                    layer_sizes_b=[b.shape[1]])


def test_mutual_top_k_from_the_graph_equals_brute_force_for_every_k_up_to_the_candidates(rng):
    a, b = _correlated(rng)
    record = _record(a, b, candidates=10)
    ks = [1, 2, 5, 10]
    counts = mutual_topk_counts(record.chunk_stats(), ks, keep=10)
    r = np.corrcoef(a.T, b.T)[:a.shape[1], a.shape[1]:]
    assert counts.tolist() == [len(brute_mutual(r, k)) for k in ks]
    assert counts[0] == record.n_rosetta
    assert topk_record(record, ks, config={}).counts.tolist() == counts.tolist()


def test_k_beyond_the_kept_candidates_is_refused_with_the_fix(rng):
    a, b = _correlated(rng, tokens=500)
    record = _record(a, b, candidates=3)
    with pytest.raises(ValueError, match="--candidates 5"):
        topk_record(record, [1, 5], config={})


def test_budget_stability_counts_overlaps():
    sets = [{(0, 1)}, {(0, 1), (2, 3)}, {(2, 3), (4, 5)}, set()]
    result = budget_stability(sets)
    assert result["counts"].tolist() == [1, 2, 2, 0]
    assert np.isnan(result["jaccard"][0]) and result["jaccard"][1:].tolist() == [0.5, 1 / 3, 0]
    assert result["kept"][1:].tolist() == [1.0, 0.5, 0.0]
    assert pair_keys([0], [1], [2], [3]) == {(0, 1, 2, 3)}


def test_planted_pairs_are_stable_across_budgets_and_the_record_orders_them(planted, rng):
    a, b, where = planted
    found = [(f"run{t}", _record(a, b, candidates=2, tokens=t,
                                 config={"candidates": 2, "inputs": list(range(t)),
                                         "examples": t // 600}))  # kept examples: no number
             for t in (3000, 600, 1500)]
    other = _record(a[:, :10], b, candidates=2, tokens=600)  # other layer sizes
    groups = budget_groups(found + [("other", other)])
    assert len(groups) == 1 and [p for p, _ in groups[0]] == ["run600", "run1500", "run3000"]
    other_k = _record(a, b, candidates=3, tokens=600, config={"candidates": 3})
    assert len(budget_groups(found + [("k", other_k)])) == 1  # other settings: not grouped
    record = stability_record(groups[0], config={})
    assert record.n_tokens.tolist() == [600, 1500, 3000] and record.method == "rerun"
    # budgets drawn from one corpus: the draw's size and mix differ, its rule and seed do not
    corpus = {"sha256": "c0ffee", "split": "heldout"}
    drawn = [(f"docs{t}", _record(a, b, candidates=2, tokens=t, config={
        "candidates": 2, "corpus": corpus | {"draw": {
            "rule": "stratified", "docs": t // 100, "seed": seed, "of": 90,
            "categories": {"code": t // 300, "prose": t // 100 - t // 300}}}}))
        for t, seed in ((600, 0), (1500, 0), (3000, 0), (3000, 1))]
    groups = budget_groups(drawn)
    assert [[p for p, _ in g] for g in groups] == [["docs600", "docs1500", "docs3000"]]
    assert np.all(record.counts >= a.shape[1]) and np.all(record.kept[1:] == 1.0)


def test_the_graph_approximation_at_the_full_budget_is_the_run_itself(rng):
    a, b = _correlated(rng)
    record = _record(a, b, candidates=3, groups=10)
    tokens, sets = graph_budget_counts(record.chunk_stats(), [0.3, 1.0])
    assert tokens[1] == a.shape[0] and tokens[0] < tokens[1]
    assert len(sets[1]) == record.n_rosetta
    assert sets[1] == set(zip(record.pairs["unit_a"].tolist(), record.pairs["unit_b"].tolist()))
