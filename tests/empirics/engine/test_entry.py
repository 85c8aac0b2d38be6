"""The engine's one entry: `match(source, EngineOptions)` gives what each engine gives when
called itself, and refuses what no engine can run."""

import dataclasses

import numpy as np
import pytest
import torch

from empirics.engine.distributed import Ranks
from empirics.engine.entry import EngineOptions, match
from empirics.engine.matching import match_neurons
from empirics.engine.official import match_official
from empirics.engine.two_stage import match_two_stage
from empirics.pipeline.match import engine_options
from empirics.pipeline.options import MatchOptions
from tests.empirics.conftest import make_source


def _same(found, expected):
    """Every field of two Matches equal (arrays exactly, the chunks by their edges)."""
    for field in dataclasses.fields(found):
        got, want = getattr(found, field.name), getattr(expected, field.name)
        if field.name == "chunks":
            assert (got is None) == (want is None)
            if got is not None:
                assert np.array_equal(got.edge_a, want.edge_a)
                assert np.array_equal(got.edge_b, want.edge_b)
        elif isinstance(want, np.ndarray):
            assert np.array_equal(got, want), field.name
        else:
            assert got == want, field.name


@pytest.fixture
def source(planted):
    a, b, where = planted  # 40 x 64 neurons, B holds noisy copies of A's
    return make_source(a.astype(np.float32), b.astype(np.float32), [700, 1500, 2200]), where


def test_the_block_mode_is_the_block_engine(source):
    stream, where = source
    found = match(stream, EngineOptions(k=1, candidates=3, groups=4, block_rows=16))
    _same(found, match_neurons(stream, k=1, candidates=3, groups=4, block_rows=16))
    assert found.guarantee == {"mode": "block"} and np.array_equal(found.index_b, where)


def test_the_two_stage_mode_is_the_two_stage_engine_with_its_sample_and_cover(source):
    stream, where = source
    # a stated memory budget: the default reads the memory free, which moves between calls
    options = EngineOptions("two-stage", candidates=3, subsample=1000, delta=1e-2, cover=0,
                            seed=5, memory_bytes=2**26)
    found = match(stream, options)
    _same(found, match_two_stage(stream, candidates=3, subsample=1000, delta=1e-2, cover=0,
                                 seed=5, memory_bytes=2**26))
    assert found.guarantee["mode"] == "two-stage" and np.array_equal(found.index_b, where)
    other = match(stream, dataclasses.replace(options, seed=6))  # the seed reaches the sample
    assert other.guarantee == match_two_stage(stream, candidates=3, subsample=1000,
                                              delta=1e-2, cover=0, seed=6,
                                              memory_bytes=2**26).guarantee


def test_the_official_mode_replays_with_its_threshold_and_layers(source):
    stream, _ = source
    layers = ([20, 20], [32, 32])
    found = match(stream, EngineOptions("official", candidates=2), layers=layers)
    _same(found, match_official(stream, candidates=2, min_correlation=0.0,
                                layers_a=layers[0], layers_b=layers[1]))
    high = match(stream, EngineOptions("official", min_correlation=0.9))
    assert len(high.index_a) and high.correlation.min() >= 0.9


def test_a_mode_no_engine_has_and_a_shared_replay_are_refused(source):
    with pytest.raises(ValueError, match="engine mode must be one of block, two-stage"):
        EngineOptions("exact")
    with pytest.raises(ValueError, match="groups must be 0"):
        EngineOptions("official", groups=8)
    with pytest.raises(ValueError, match="one process, not 2"):
        match(source[0], EngineOptions("official"), ranks=Ranks(0, 2))


def test_a_match_s_options_become_the_engine_s():
    engine = engine_options(MatchOptions(k=2, candidates=4, groups=8, subsample=5000,
                                         delta=0.01, dtype="bfloat16"))
    assert engine == EngineOptions("two-stage", k=2, candidates=4, groups=8, subsample=5000,
                                   delta=0.01, dtype=torch.bfloat16)
    assert engine_options(MatchOptions(engine="block")).mode == "block"
    replay = engine_options(MatchOptions(engine="block", replay="official", groups=0))
    assert replay.mode == "official" and replay.min_correlation is None
