"""Bad input to the engine and to the match command: one clear error each, naming the batch,
model or flag; never a bare IndexError/TypeError and never a silently wrong result."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from empirics.engine.matching import match_neurons

GOOD = (torch.randn(50, 6), torch.randn(50, 5))


def stream_of(*batches):
    return lambda: iter(batches)


DAMAGE = st.sampled_from(["1-d", "3-d", "misaligned", "width", "nan", "inf", "strings",
                          "single", "triple", "complex"])


def damaged(kind: str, rng: np.random.Generator):
    a, b = torch.randn(40, 6), torch.randn(40, 5)
    if kind == "1-d":
        return a[:, 0], b
    if kind == "3-d":
        return a, b[None]
    if kind == "misaligned":
        return a, b[:-int(rng.integers(1, 10))]
    if kind == "width":
        return a[:, :-1], b
    if kind in ("nan", "inf"):
        a = a.clone()
        a[int(rng.integers(0, 40)), int(rng.integers(0, 6))] = float(kind)
        return a, b
    if kind == "strings":
        return "a", "b"
    if kind == "single":
        return (a,)
    if kind == "triple":
        return a, b, b
    return a.to(torch.complex64), b


@settings(max_examples=60, deadline=None)
@given(kind=DAMAGE, position=st.integers(0, 3), seed=st.integers(0, 2**16))
def test_every_malformed_batch_is_named_by_its_index(kind, position, seed):
    batches = [GOOD] * 4
    batches.insert(position, damaged(kind, np.random.default_rng(seed)))
    # a first batch sets the widths: then the first full-width batch is the odd one out
    named = 1 if kind == "width" and position == 0 else position
    with pytest.raises(ValueError, match=f"batch {named}"):
        match_neurons(stream_of(*batches))


def test_numpy_batches_are_accepted_and_match_like_tensors():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((300, 6)), rng.standard_normal((300, 5))
    b[:, 2] = a[:, 4] + 0.1 * rng.standard_normal(300)
    as_numpy = match_neurons(stream_of((a[:150], b[:150]), (a[150:], b[150:])))
    as_torch = match_neurons(stream_of(*((torch.from_numpy(x), torch.from_numpy(y))
                                         for x, y in ((a[:150], b[:150]), (a[150:], b[150:])))))
    np.testing.assert_array_equal(as_numpy.index_a, as_torch.index_a)
    np.testing.assert_array_equal(as_numpy.correlation, as_torch.correlation)
    assert (4, 2) in set(zip(as_numpy.index_a.tolist(), as_numpy.index_b.tolist()))


def test_a_one_shot_source_is_refused_instead_of_losing_its_first_batch():
    batches = iter([GOOD, GOOD, GOOD])
    with pytest.raises(ValueError, match="same iterator twice"):
        match_neurons(lambda: batches)
    with pytest.raises(TypeError, match="callable returning a fresh iterator"):
        match_neurons([GOOD, GOOD])


@pytest.mark.parametrize("options, message", [({"k": 0}, "k must be at least 1"),
                                              ({"candidates": 1, "k": 2}, "candidates"),
                                              ({"groups": -1}, "groups must be")])
def test_engine_options_are_checked_before_any_pass(options, message):
    calls = []

    def source():
        calls.append(1)
        return iter([GOOD])

    with pytest.raises(ValueError, match=message):
        match_neurons(source, **options)
    assert not calls
