"""Domain specialization: enrichment of categories among a neuron's top samples."""

import numpy as np
import pytest

from empirics.analysis.pair_records import specialization_record
from empirics.analysis.specialization import (
    CORPUS_CATEGORIES,
    category_enrichment,
    document_categories,
    sample_categories,
)
from empirics.capture.stimuli import default_corpus
from empirics.records.examples import ExamplesRecord
from empirics.records.match import MatchRecord


def test_every_corpus_document_has_its_group_as_category():
    ids = [d.id for d in default_corpus()]
    categories = document_categories(ids)
    assert set(categories) == {"prose", "multilingual", "code", "data"}
    assert all(c == "code" for i, c in zip(ids, categories) if i.startswith("code-"))
    assert document_categories(["mine"], {"mine": "math"}) == ["math"]
    with pytest.raises(ValueError, match="no category.*'unknown-doc'"):
        document_categories(["gettysburg", "unknown-doc"])
    assert len(CORPUS_CATEGORIES) == len(ids)


def test_a_neuron_at_corpus_frequency_scores_one_and_a_code_only_neuron_above_one():
    # 8 samples: code 2/8, prose 4/8, data 2/8
    category = np.array([0, 0, 1, 1, 1, 1, 2, 2])
    at_frequency = [0, 2, 3, 6]  # 1 code, 2 prose, 1 data of 4: the corpus's shares
    code_only = [1, 0, -1, -1]  # padding ignored
    enrichment = category_enrichment(np.array([at_frequency, code_only, [-1] * 4]), category, 3)
    assert np.allclose(enrichment[0], 1.0)
    assert np.allclose(enrichment[1], [4.0, 0.0, 0.0])  # 1 / f_code
    assert np.isnan(enrichment[2]).all()


def test_enrichment_of_random_top_samples_averages_to_one(rng):
    category = rng.integers(0, 4, 2000)
    top = np.stack([rng.choice(2000, 20, replace=False) for _ in range(3000)])
    enrichment = category_enrichment(top, category, 4)
    assert np.allclose(enrichment.mean(axis=0), 1.0, atol=0.03)


def _records(n_units=40):
    """A pair whose Rosetta neurons 0..9 (model A) fire on code spans only; the rest on
    random spans. Samples: 30 spans of each of the four corpus categories' first document."""
    ids = ["code-mean", "gettysburg", "data-json", "goethe"]
    table = {"input": np.repeat(np.arange(4), 30)}
    rng = np.random.default_rng(0)
    samples = np.stack([rng.choice(120, 6, replace=False) for _ in range(n_units)])
    samples[:10] = rng.choice(30, (10, 6))  # code spans
    values = np.sort(rng.random((n_units, 6)), axis=1)[:, ::-1].astype(np.float32)
    examples = ExamplesRecord(
        config={}, model_a="a", model_b="b", k=6, layer_sizes_a=[n_units],
        layer_sizes_b=[n_units], values_a=values, samples_a=samples, values_b=values,
        samples_b=samples, sample_table=table, inputs=ids, texts=[""] * 4, images={})
    units = np.arange(10)
    match = MatchRecord(
        config={}, family="test", model_a="a", model_b="b", size_a=1.0, size_b=1.0,
        null="none", k=1, min_correlation=None, n_tokens=120, n_neurons_a=n_units,
        n_neurons_b=n_units, n_rosetta=10, dead_a=0, dead_b=0, layer_sizes_a=[n_units],
        layer_sizes_b=[n_units],
        pairs={"layer_a": 0 * units, "unit_a": units, "layer_b": 0 * units, "unit_b": units,
               "r": np.full(10, 0.9)},
        rosetta_per_layer_a=np.array([10]), rosetta_per_layer_b=np.array([10]),
        rechecked=False, max_recheck_change=None, changed_pairs=0, chunks={})
    return match, examples


def test_the_record_finds_code_specialized_rosetta_neurons_against_the_control(tmp_path):
    match, examples = _records()
    record = specialization_record(match, examples, config={}, rng=np.random.default_rng(1))
    record.save(tmp_path)
    loaded = type(record).load(tmp_path)
    assert loaded.categories == ["code", "data", "multilingual", "prose"]
    assert np.allclose(loaded.frequency, 0.25)
    code = loaded.summary["rosetta"]["code"]
    assert code[0] == pytest.approx(4.0) and code[1] == pytest.approx(4.0)
    assert loaded.summary["rosetta"]["prose"][0] == 0.0
    control = loaded.summary["control"]["code"]
    assert abs(control[0] - 1.0) < 0.7 and control[2] < 4.0  # sd of the mean ~0.22
    assert loaded.enrichment["rosetta_a"].shape == (10, 4)
    assert loaded.enrichment["control_a"].shape == (10, 4)


def test_sample_categories_follow_the_inputs():
    per_sample, names = sample_categories(np.array([1, 0, 1]), ["prose", "code"])
    assert names == ["code", "prose"] and per_sample.tolist() == [0, 1, 0]
