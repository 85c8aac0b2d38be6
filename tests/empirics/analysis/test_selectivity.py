"""Selectivity: kurtosis, the final-norm folding of every architecture, streaming activation
proxies, the size-matched control and the judge interface."""

import numpy as np
import pytest
import torch
import transformers
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from empirics.analysis.judge import judge_neurons, load_judge, render_examples
from empirics.analysis.selectivity import (
    ActivationStats,
    activation_proxies,
    excess_kurtosis,
    mean_interval,
    size_matched_control,
    vocabulary_kurtosis,
)
from empirics.models.hooks import mlp_modules
from empirics.models.load import LoadedModel
from empirics.models.unembedding import effective_unembedding, output_directions
from empirics.records.examples import ExamplesRecord
from tests.empirics.tiny_models import tiny_config, tiny_spec


def test_a_one_hot_projection_has_the_largest_kurtosis_and_a_gaussian_about_zero(rng):
    vocab = 500
    one_hot = vocabulary_kurtosis(torch.eye(vocab)[:3], torch.eye(vocab))
    assert one_hot == pytest.approx(vocab - 5 + 1 / (vocab - 1), rel=1e-5)
    gaussian = vocabulary_kurtosis(torch.from_numpy(rng.standard_normal((50, 64))).float(),
                                   torch.from_numpy(rng.standard_normal((64, 20000))).float())
    # Each row is a Gaussian vector over 20000 tokens: sampling sd of the kurtosis ~ sqrt(24/V)
    assert np.all(np.abs(gaussian) < 5 * np.sqrt(24 / 20000))


def test_blocked_vocabulary_kurtosis_equals_scipy_on_the_whole_product(rng):
    directions = torch.from_numpy(rng.standard_normal((37, 16)))
    unembedding = torch.from_numpy(rng.standard_exponential((16, 300)))
    found = vocabulary_kurtosis(directions, unembedding, block_rows=5)
    expected = stats.kurtosis((directions @ unembedding).numpy(), axis=1, fisher=True)
    assert np.allclose(found, expected, rtol=1e-10)
    assert torch.isnan(excess_kurtosis(torch.ones(1, 4))).all()
    with pytest.raises(ValueError, match="d_model"):
        vocabulary_kurtosis(directions, unembedding.T)


def _loaded(architecture: str, **overrides) -> LoadedModel:
    config = tiny_config(architecture)
    for key, value in overrides.items():
        setattr(config, key, value)
    torch.manual_seed(3)
    model = transformers.AutoModelForCausalLM.from_config(config).eval()
    with torch.no_grad():  # non-trivial norm gains and biases
        for name, parameter in model.named_parameters():
            if "norm" in name or "ln_f" in name:
                parameter.add_(0.3 * torch.randn_like(parameter))
    return LoadedModel(tiny_spec(architecture, config, "text"), model, None, architecture,
                       "random")


@pytest.mark.parametrize("architecture,overrides", [
    ("gpt_neox", {}), ("opt", {}), ("gpt2", {}), ("qwen2", {}),
    ("opt", {"word_embed_proj_dim": 16, "do_layer_norm_before": False})])
def test_the_folded_unembedding_reproduces_the_logits_of_the_last_residual(architecture,
                                                                           overrides):
    """logits = normalised(h) @ U_eff + a constant, with h the input of the folded norm."""
    loaded = _loaded(architecture, **overrides)
    unembedding = effective_unembedding(loaded, dtype=torch.float64)
    norm = dict(loaded.model.named_modules())[unembedding.norm]
    seen = []
    handle = norm.register_forward_pre_hook(lambda module, inputs: seen.append(inputs[0]))
    with torch.no_grad():
        logits = loaded.model(input_ids=torch.arange(1, 25)[None]).logits[0].double()
    handle.remove()
    h = seen[-1].reshape(-1, seen[-1].shape[-1]).double()
    eps = getattr(norm, "eps", None) or getattr(norm, "variance_epsilon")
    if unembedding.centre:
        h = h - h.mean(dim=1, keepdim=True)
    scale = torch.sqrt(h.square().mean(dim=1, keepdim=True) + eps)
    offset = logits - (h / scale) @ unembedding.matrix
    assert torch.allclose(offset, offset[:1].expand_as(offset), atol=1e-4)


@pytest.mark.parametrize("architecture", ["gpt_neox", "gpt2", "qwen2"])
def test_output_directions_are_what_each_neuron_writes(architecture, rng):
    loaded = _loaded(architecture)
    modules = mlp_modules(loaded.model, architecture)
    directions = output_directions(loaded, centre=False)
    for module, rows in zip(modules, directions):
        a = torch.from_numpy(rng.standard_normal((3, rows.shape[0]))).float()
        bias = getattr(module, "bias", None)
        written = module(a) - (bias if bias is not None else 0)
        assert torch.allclose(written, a @ rows, atol=1e-5)
    centred = output_directions(loaded, centre=True)[0]
    assert torch.allclose(centred.mean(dim=1), torch.zeros(centred.shape[0]), atol=1e-6)


@given(sizes=st.lists(st.integers(0, 40), min_size=1, max_size=5).filter(lambda s: s[0] > 0),
       offset=st.sampled_from([0.0, 1e4]), seed=st.integers(0, 2**16))
def test_streamed_proxies_equal_the_whole_sample(sizes, offset, seed):
    rng = np.random.default_rng(seed)
    data = rng.standard_exponential((sum(sizes), 3)) ** 2 + offset
    data[:, 2] = 0.5  # a dead neuron
    accumulator = ActivationStats(3)
    start = 0
    for size in sizes:
        accumulator.update(torch.from_numpy(data[start:start + size]))
        start += size
    result = accumulator.result()
    top = np.sort(data, axis=0)[::-1][:2].T
    found = activation_proxies(result["count"][0], result["shift"], result["sums"], top)
    live = data[:, :2]
    if len(data) < 3 or np.any(live.std(axis=0) < 1e-9 * np.maximum(1, abs(live.mean(0)))):
        return
    assert np.allclose(found["activation_kurtosis"][:2], stats.kurtosis(live, axis=0),
                       rtol=1e-6, atol=1e-6)
    root = np.sqrt(len(data))
    hoyer = (root - np.abs(live).sum(0) / np.sqrt((live**2).sum(0))) / (root - 1)
    assert np.allclose(found["hoyer_sparsity"][:2], hoyer, rtol=1e-6, atol=1e-9)
    zscore = (top[:2].mean(axis=1) - live.mean(0)) / live.std(0)
    assert np.allclose(found["top_zscore"][:2], zscore, rtol=1e-6)
    assert all(np.isnan(found[name][2]) for name in found)


def test_a_sparse_neuron_scores_higher_on_every_proxy_than_a_dense_one(rng):
    dense = rng.standard_normal(5000) + 3.0
    sparse = np.where(rng.random(5000) < 0.01, 5.0 + rng.random(5000), 0.0)
    accumulator = ActivationStats(2)
    accumulator.update(torch.from_numpy(np.stack([dense, sparse], axis=1)))
    result = accumulator.result()
    top = np.sort(np.stack([dense, sparse]), axis=1)[:, ::-1][:, :10]
    found = activation_proxies(result["count"][0], result["shift"], result["sums"], top)
    for name, values in found.items():
        assert values[1] > values[0], name


def test_the_control_matches_the_rosetta_count_of_every_layer_and_avoids_it(rng):
    layer = np.repeat([0, 1, 2], [50, 50, 50])
    rosetta = np.zeros(150, dtype=bool)
    rosetta[[1, 2, 3, 60, 61, 149]] = True
    eligible = np.ones(150, dtype=bool)
    eligible[[4, 5]] = False
    control = size_matched_control(rosetta, layer, eligible, rng=rng)
    assert not np.any(control & rosetta) and not np.any(control & ~eligible)
    assert np.array_equal(np.bincount(layer[control], minlength=3),
                          np.bincount(layer[rosetta], minlength=3))
    few = size_matched_control(np.arange(150) < 49, layer, eligible, rng=rng)
    assert np.array_equal(np.flatnonzero(few), [49])  # all that layer 0 has left


def test_the_bootstrap_interval_of_a_mean_covers_it_and_ignores_nans(rng):
    values = np.concatenate([rng.standard_normal(400) + 2.0, [np.nan]])
    mean, low, high = mean_interval(values, rng=rng, n_resamples=500)
    assert low < mean < high and mean == pytest.approx(np.nanmean(values))
    assert high - low == pytest.approx(2 * 1.96 / np.sqrt(400), rel=0.25)
    assert np.isnan(mean_interval(np.array([np.nan]), rng=rng)).all()


class FirstWordJudge:
    """Scores a neuron by the share of its contexts whose marked span is its most common one."""

    name = "same-span"
    prompt = "Do these highlighted spans share one meaning? Answer with a score in [0, 1]."

    def __call__(self, neurons):
        scores = []
        for neuron in neurons:
            spans = [c.split("[[")[1].split("]]")[0] for c in neuron.contexts]
            scores.append(max(spans.count(s) for s in spans) / len(spans))
        return scores


def text_examples() -> ExamplesRecord:
    text = "def f(x): return x  # the cat sat on the mat"
    starts = np.array([0, 4, 10, 20, 24])
    ends = np.array([3, 5, 16, 23, 27])
    samples = np.array([[0, 0], [2, 3], [4, -1]])
    return ExamplesRecord(
        config={}, model_a="m", model_b="m", k=2, layer_sizes_a=[2, 1], layer_sizes_b=[3],
        values_a=np.array([[2.0, 1.0], [3.0, 2.0], [1.0, np.nan]], dtype=np.float32),
        samples_a=samples, values_b=np.zeros((3, 2), dtype=np.float32), samples_b=samples,
        sample_table={"input": np.zeros(5, dtype=np.int64), "start": starts, "end": ends},
        inputs=["code-doc"], texts=[text], images={})


def test_a_judge_reads_rendered_examples_and_its_prompt_is_kept():
    record = text_examples()
    rendered = render_examples(record, "a", [0, 2], window=4)
    assert rendered[0].contexts == ("[[def]] f(x", "[[def]] f(x")
    assert (rendered[1].layer, rendered[1].unit, len(rendered[1].contexts)) == (1, 0, 1)
    judged = judge_neurons(FirstWordJudge(), record, "a", [0, 1])
    assert judged["scores"] == [1.0, 0.5] and judged["prompt"] == FirstWordJudge.prompt


def test_a_judge_with_bad_scores_or_spec_is_refused():
    class Broken(FirstWordJudge):
        def __call__(self, neurons):
            return [2.0] * len(neurons)

    with pytest.raises(ValueError, match="one score in"):
        judge_neurons(Broken(), text_examples(), "a", [0])
    with pytest.raises(ValueError, match="module:factory"):
        load_judge("no-colon")
    judge = load_judge("tests.empirics.analysis.test_selectivity:FirstWordJudge")
    assert judge.name == "same-span"
