"""The filtering step's core: neuron sets, document scores, kept fractions, seed intervals."""

import numpy as np
import pytest
from scipy import stats

from empirics.analysis import filtering


def test_the_most_enriched_rosetta_neurons_are_chosen_and_none_is_refused():
    enrichment = np.array([3.0, 5.0, 0.5, 4.0, np.nan, 6.0])
    rosetta = np.array([True, True, True, True, True, False])
    chosen = filtering.target_neurons(enrichment, rosetta, n_max=2, min_enrichment=1.5)
    assert chosen.tolist() == [1, 3]  # 5 (neuron 5 is not Rosetta)
    assert filtering.target_neurons(enrichment, rosetta, n_max=9,
                                    min_enrichment=1.5).tolist() == [0, 1, 3]
    with pytest.raises(ValueError, match="highest is 5"):
        filtering.target_neurons(enrichment, rosetta, n_max=2, min_enrichment=9.0)


@pytest.mark.parametrize("rule", filtering.CONTROL_RULES)
def test_the_control_matches_the_layers_and_avoids_rosetta_neurons(rule, rng):
    layers = np.repeat([0, 1, 2], 20)
    rosetta = rng.random(60) < 0.3
    enrichment = rng.exponential(size=60)
    chosen = np.array([np.flatnonzero(rosetta & (layers == 0))[0],
                       *np.flatnonzero(rosetta & (layers == 2))[:2]])
    control = filtering.layer_matched_control(chosen, layers, rosetta, enrichment, rule=rule,
                                              rng=rng)
    assert np.bincount(layers[control], minlength=3).tolist() == [1, 0, 2]
    assert not rosetta[control].any()
    if rule == "enriched":
        top = np.flatnonzero(~rosetta & (layers == 0))
        assert control[0] == top[np.argmax(enrichment[top])]
    with pytest.raises(ValueError, match="fewer than"):
        filtering.layer_matched_control(np.flatnonzero(layers == 1), layers, rosetta,
                                        enrichment, rule=rule, rng=rng)


@pytest.mark.parametrize("rule", filtering.RULES)
def test_documents_where_the_set_fires_score_highest(rule, rng):
    """Planted: 10 of 40 documents carry tokens where the set's neurons fire; each rule puts
    exactly those on top, and a neuron of 1000-fold scale does not swamp mean or max."""
    activations, planted = [], set(range(0, 40, 4))
    for doc in range(40):
        acts = rng.normal(size=(int(rng.integers(5, 30)), 3))
        if doc in planted:
            acts[rng.integers(0, len(acts), size=3), :2] += 8.0
        acts[:, 2] *= 1000.0  # a loud neuron that fires nowhere in particular
        activations.append(acts)
    scores = filtering.score_documents(activations, rule, quantile=0.97)
    assert set(filtering.keep_top(scores, 0.25).tolist()) == planted


def test_share_is_the_mean_share_of_tokens_above_each_neurons_quantile():
    activations = [np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([[2.0, 5.0], [3.0, 6.0]])]
    threshold = np.quantile(np.concatenate(activations), 0.5, axis=0)  # [1.5, 2.5]
    assert threshold.tolist() == [1.5, 2.5]
    assert filtering.score_documents(activations, "share", quantile=0.5).tolist() == [0, 1]
    with pytest.raises(ValueError, match="at least one scored token"):
        filtering.score_documents([np.zeros((0, 2))], "mean")
    with pytest.raises(ValueError, match="scoring rule"):
        filtering.score_documents(activations, "median")


def test_kept_sizes_ties_random_subsets_and_composition(rng):
    assert filtering.kept_size(10, 0.25) == 2 and filtering.kept_size(3, 0.01) == 1
    with pytest.raises(ValueError, match="kept fraction"):
        filtering.kept_size(10, 0.0)
    assert filtering.keep_top(np.array([1.0, 2.0, 2.0, 0.0]), 0.5).tolist() == [1, 2]
    subset = filtering.random_subset(50, 7, rng=rng)
    assert len(set(subset.tolist())) == 7 and subset.max() < 50
    assert filtering.composition(["a", "b", "a", "c"], np.array([0, 2, 3])) == {
        "a": 2 / 3, "b": 0.0, "c": 1 / 3}


def test_the_seed_interval_is_the_t_interval_and_covers_at_its_level(rng):
    values = np.array([1.0, 2.0, 4.0])
    mean, low, high = filtering.seed_interval(values, level=0.9)
    expected = stats.t.interval(0.9, 2, loc=values.mean(), scale=stats.sem(values))
    assert mean == pytest.approx(7 / 3) and (low, high) == pytest.approx(expected)
    assert np.isnan(filtering.seed_interval(np.array([1.0]))[1])
    draws = rng.normal(3.0, 2.0, size=(4000, 3))
    covered = [low <= 3.0 <= high for _, low, high in
               (filtering.seed_interval(d, level=0.9) for d in draws)]
    assert np.mean(covered) == pytest.approx(0.9, abs=0.02)
