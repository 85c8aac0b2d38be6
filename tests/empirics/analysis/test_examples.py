"""Top-activating samples per neuron, gathered on the engine's first pass over the stream."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from empirics.analysis.examples import FirstPass, TopExamples, collect_examples
from empirics.engine.matching import match_neurons


def _batches(rng, sizes, n):
    return [torch.from_numpy(rng.standard_normal((size, n)).astype(np.float32))
            for size in sizes]


@given(sizes=st.lists(st.integers(0, 9), min_size=1, max_size=6), k=st.integers(1, 12),
       seed=st.integers(0, 2**16))
def test_streamed_top_k_equals_a_full_sort_of_the_whole_stream(sizes, k, seed):
    rng = np.random.default_rng(seed)
    batches = _batches(rng, sizes, 5)
    if sizes[0]:  # ties: the earlier sample must win
        batches[0][0] = batches[-1][-1] if batches[-1].shape[0] else batches[0][0]
    top = TopExamples(5, k)
    for batch in batches:
        top.update(batch)
    values, samples = top.result()
    whole = torch.cat(batches).numpy()
    kept = min(k, whole.shape[0])
    for neuron in range(5):
        order = np.argsort(-whole[:, neuron], kind="stable")[:kept]
        assert np.array_equal(samples[neuron, :kept], order)
        assert np.array_equal(values[neuron, :kept], whole[order, neuron])
        assert np.all(samples[neuron, kept:] == -1) and np.all(np.isnan(values[neuron, kept:]))


def test_a_batch_of_the_wrong_width_is_refused():
    top = TopExamples(4, 2)
    with pytest.raises(ValueError, match=r"\(samples, 4\)"):
        top.update(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="k=0"):
        TopExamples(4, 0)


def test_first_pass_observes_every_batch_once_even_after_an_abandoned_pass(rng):
    batches = [(torch.full((2, 1), float(i)), torch.zeros(2, 1)) for i in range(5)]
    seen = []
    wrapped = FirstPass(lambda: iter(batches), lambda i, a, b: seen.append(i))
    for index, _ in enumerate(wrapped()):
        if index == 2:
            break
    assert seen == [0, 1, 2] and not wrapped.complete
    list(wrapped())
    list(wrapped())
    assert seen == [0, 1, 2, 3, 4] and wrapped.complete
    wrapped.finish()
    assert seen == [0, 1, 2, 3, 4]


def test_examples_ride_along_the_engine_and_agree_with_its_data(rng):
    batches = [tuple(torch.from_numpy(rng.standard_normal((30, n)).astype(np.float32))
                     for n in (6, 4)) for _ in range(4)]
    source, finished = collect_examples(lambda: iter(batches), 6, 4, k=3)
    match_neurons(source, k=1, candidates=2, device="cpu")
    top_a, top_b = finished()
    assert top_a.n_samples == top_b.n_samples == 120
    whole_b = torch.cat([b for _, b in batches]).numpy()
    values, samples = top_b.result()
    assert np.array_equal(values, np.take_along_axis(whole_b.T, samples, axis=1))
    assert np.array_equal(samples[:, 0], whole_b.argmax(axis=0))


def test_image_examples_keep_at_most_the_image_cap():
    grid, batches = (2, 2), [(torch.rand(8, 3), torch.rand(8, 2)) for _ in range(3)]
    source, finished = collect_examples(lambda: iter(batches), 3, 2, k=6, grid=grid, images=4)
    list(source())
    top_a, _, images_a, images_b = finished()
    assert top_a.k == 6 and images_a.k == images_b.k == 4
    assert images_a.result()["maps"].shape == (3, 4, 2, 2)
