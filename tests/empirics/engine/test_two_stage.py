"""The two-stage engine: a token sample screens the candidates, one pass makes them exact."""

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from empirics.engine import screening
from empirics.engine.matching import match_neurons
from empirics.engine.sampling import bottom_slots, picked_slots, token_keys
from empirics.engine.screening import (
    TILE_ENTRY_BYTES,
    BoundTerms,
    _sample_products,
    pair_bounds,
    sample_traffic,
    screen,
    screen_tiles,
)
from empirics.engine.subsample import Spread, sample_pass
from empirics.engine.two_stage import match_two_stage
from tests.empirics.conftest import make_source, planted_arrays


def _population_r(a, b):
    za = (a - a.mean(0)) / a.std(0)
    zb = (b - b.mean(0)) / b.std(0)
    return za.T @ zb / a.shape[0]


def _pairs(found):
    return set(zip(found.index_a.tolist(), found.index_b.tolist()))


def test_spread_merged_over_batches_is_the_whole_streams():
    rng = np.random.default_rng(1)
    x = rng.standard_exponential((900, 5)) ** 2 * 3.0 + 40.0
    merged = None
    for lo, hi in [(0, 7), (7, 400), (400, 401), (401, 900)]:
        piece = Spread.of(torch.from_numpy(x[lo:hi]))
        merged = piece if merged is None else merged.merge(piece)
    d = x - x.mean(0)
    for name, want in (("mean", x.mean(0)), ("m2", (d**2).sum(0)), ("m3", (d**3).sum(0)),
                       ("m4", (d**4).sum(0)), ("low", x.min(0)), ("high", x.max(0))):
        np.testing.assert_allclose(getattr(merged, name).numpy(), want, rtol=1e-9)
    np.testing.assert_allclose(merged.kurtosis().numpy(), (d**4).mean(0) / x.var(0) ** 2)


def _kept_tokens(seed, batches, size, world):
    """The stream positions that `world` ranks (batch i read by rank i mod world) keep once
    their bottom keys are merged."""
    starts = np.cumsum([0, *batches])
    keys, positions = [], []
    for rank in range(world):
        kept, at = np.full(size, np.inf), np.full(size, -1)
        for index in range(rank, len(batches), world):
            slots, rows = bottom_slots(kept, token_keys(seed, index, batches[index]))
            at[slots] = starts[index] + rows
        keys.append(kept)
        positions.append(at)
    return np.concatenate([at[slots] for at, slots in zip(positions, picked_slots(keys))])


def test_the_sample_is_uniform_and_the_same_over_any_number_of_ranks():
    """Bottom keys over uneven batches: 1, 2 and 3 ranks keep the very same 10 of 40 tokens
    for every seed; over 3000 seeds each token is kept with probability 1/4 and each pair of
    tokens with 10 * 9 / (40 * 39), as for a uniform draw without replacement (within 5
    standard errors)."""
    batches, size, seeds = (3, 9, 1, 17, 10), 10, 3000
    tokens = sum(batches)
    once, twice = np.zeros(tokens), np.zeros((tokens, tokens))
    for seed in range(seeds):
        kept = _kept_tokens(seed, batches, size, 2)
        assert len(set(kept.tolist())) == size and kept.min() >= 0
        for world in (1, 3):
            assert set(_kept_tokens(seed, batches, size, world).tolist()) == set(kept.tolist())
        once[kept] += 1
        twice[np.ix_(kept, kept)] += 1
    p1 = size / tokens
    assert np.abs(once - seeds * p1).max() < 5 * math.sqrt(seeds * p1 * (1 - p1))
    p2 = size * (size - 1) / (tokens * (tokens - 1))
    off = ~np.eye(tokens, dtype=bool)
    assert np.abs(twice[off] - seeds * p2).max() < 5 * math.sqrt(seeds * p2 * (1 - p2))


def test_the_slots_fill_in_order_and_keep_the_smallest_keys():
    keys = np.full(4, np.inf)
    slots, rows = bottom_slots(keys, np.array([0.5, 0.2]))
    assert slots.tolist() == [0, 1] and rows.tolist() == [0, 1]
    slots, rows = bottom_slots(keys, np.array([0.9, 0.1, 0.3, 0.05]))
    assert sorted(keys.tolist()) == [0.05, 0.1, 0.2, 0.3]
    assert np.isfinite(keys).all() and len(slots) == len(rows) == 3


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_rounding_term_covers_the_sample_products(dtype):
    """With the whole stream as the sample the statistical term is 0, so the computed r~
    stays within the rounding term of the float64 r (means far from the first batch's)."""
    rng = np.random.default_rng(2)
    a = rng.standard_normal((3000, 12)) * 2.0 + 300.0
    b = np.concatenate([a[:, :6] + rng.standard_normal((3000, 6)),
                        rng.standard_exponential((3000, 6))], axis=1)
    a[:5] += 4.0  # a first batch unlike the rest: offsets a few std from the means
    sample = sample_pass(make_source(a, b, [5, 1000]), 3000, dtype=dtype)
    computed = _sample_products(sample, slice(0, 12), "cpu").numpy()
    terms = [BoundTerms.of(s, z, c, "cpu") for s, z, c in (
        (sample.spread_a, sample.z_a, sample.shift_excess_a),
        (sample.spread_b, sample.z_b, sample.shift_excess_b))]
    bound = pair_bounds(*terms, size=3000, n_tokens=3000, log_term=10.0, dtype=dtype).numpy()
    gap = np.abs(computed - _population_r(a, b))
    assert np.all(gap <= bound) and bound.max() < (0.08 if dtype == torch.bfloat16 else 1e-3)
    assert gap.max() > bound.max() / 1000  # the term is not vacuously large


def test_the_bernstein_bound_holds_for_every_pair_of_a_heavy_tailed_stream():
    rng = np.random.default_rng(3)
    base = rng.standard_t(4, size=(20000, 8))
    a = np.concatenate([base, rng.standard_exponential((20000, 8)) ** 2], axis=1)
    b = np.concatenate([base + rng.standard_t(4, size=(20000, 8)),
                        rng.standard_t(5, size=(20000, 8))], axis=1)
    sample = sample_pass(make_source(a, b, list(range(0, 20000, 997))), 2000, seed=5)
    terms = [BoundTerms.of(s, z, c, "cpu") for s, z, c in (
        (sample.spread_a, sample.z_a, sample.shift_excess_a),
        (sample.spread_b, sample.z_b, sample.shift_excess_b))]
    bound = pair_bounds(*terms, size=2000, n_tokens=20000, log_term=math.log(256 / 1e-3),
                        dtype=torch.float32).numpy()
    estimate = _sample_products(sample, slice(0, 16), "cpu").numpy()
    exact = _population_r(a, b)
    assert np.all(exact <= estimate + bound)
    assert np.abs(exact - estimate).max() > 0.01  # the sample's error is real


def test_planted_pairs_are_the_block_engines_in_two_passes_and_certified():
    tokens = 20000
    a, b, where = planted_arrays(tokens)
    n, m = a.shape[1], b.shape[1]
    source = make_source(a, b, list(range(0, tokens, 1000)))
    block = match_neurons(source, groups=4, block_rows=5)
    found = match_two_stage(source, groups=4, candidates=3, subsample=4096, cover=0)
    assert _pairs(found) == _pairs(block) and len(found.index_a) == n
    np.testing.assert_allclose(found.correlation, block.correlation, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(found.chunks.tokens, block.chunks.tokens)
    assert found.passes == 2 and block.passes == 8 + 1  # 8 blocks and the candidate pass
    guarantee = found.guarantee
    assert guarantee["mode"] == "two-stage" and guarantee["subsample"] == 4096
    assert guarantee["uncertified_a"] == 0 and guarantee["uncertain_pairs"] == 0
    # B's 24 unmatched neurons have no clear best partner: uncertified, and reported so
    assert guarantee["uncertified_b"] == 24 and found.certified_b[where].all()
    assert set(np.flatnonzero(~found.certified_b)) == set(range(m)) - set(where.tolist())
    # by default the exact pass sums every pair of A's side (40 x 64 fit): all certified
    covered = match_two_stage(source, groups=4, candidates=3, subsample=4096)
    assert covered.passes == 2 and covered.guarantee["covered_a"] == n
    assert covered.certified_a.all() and covered.certified_b.all()
    assert _pairs(covered) == _pairs(block)
    np.testing.assert_allclose(covered.correlation, block.correlation, rtol=0, atol=1e-12)


def test_the_screen_tiled_both_ways_equals_one_tile_and_reads_b_once_per_row_block(
        monkeypatch):
    """Tiles of 7 rows x 9 columns give the candidates and bounds of one 40 x 64 tile, and
    B's sample is read once per block of rows (6 blocks), in column tiles. (Values agree to
    the float32 rounding of 2048-term sums, which the products' shapes order differently.)"""
    a, b, _ = planted_arrays(5000)
    sample = sample_pass(make_source(a, b, [1000, 2500]), 2048, seed=3)
    whole = screen(sample, 3, delta=1e-3, block_rows=40, block_cols=64)
    reads = []

    def counted(za, zb):
        reads.append(zb.shape[1])
        return tile_products(za, zb)

    tile_products = screening._tile_products
    monkeypatch.setattr(screening, "_tile_products", counted)
    tiled = screen(sample, 3, delta=1e-3, block_rows=7, block_cols=9)
    assert sum(reads) == 64 * 6 and max(reads) == 9  # m columns per block of 7 rows
    for side in ("rows", "cols"):
        got, want = getattr(tiled, side), getattr(whole, side)
        assert torch.equal(got.indices, want.indices)
        torch.testing.assert_close(got.values, want.values, rtol=0, atol=1e-5)
    for side in ("row_bound", "col_bound"):
        torch.testing.assert_close(getattr(tiled, side), getattr(whole, side), rtol=0,
                                   atol=1e-5)


def test_the_tiles_fit_their_memory_and_cut_the_sample_traffic():
    n, m, size, memory = 7000, 9000, 2**12, 2**26
    for itemsize in (2, 4):
        rows, cols = screen_tiles(n, m, size, itemsize, memory)
        assert rows * size * itemsize <= memory / 2
        assert rows * cols * TILE_ENTRY_BYTES + size * cols * itemsize <= memory / 2
        old_rows = memory // (32 * m)  # rows only: a block holds all of B's columns
        assert sample_traffic(n, m, size, itemsize, rows) < sample_traffic(
            n, m, size, itemsize, old_rows) / 4
    assert screen_tiles(n, m, size, 2, memory)[0] == 2 * screen_tiles(n, m, size, 4, memory)[0]


@st.composite
def streams(draw):
    """Random streams of a few sizes with planted, duplicated (exact ties) and near-tied
    partners, cut into batches."""
    seed = draw(st.integers(0, 2**31 - 1))
    n, m = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    tokens = draw(st.integers(8, 400))
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((tokens, n)) * rng.uniform(0.1, 5, n) + rng.uniform(-50, 50, n)
    b = rng.standard_normal((tokens, m))
    for j in range(min(n, m) // 2):
        b[:, j] = a[:, j] + rng.uniform(0.1, 2.0) * rng.standard_normal(tokens)
    alias = {}
    if m >= 3 and draw(st.booleans()):
        b[:, m - 1] = b[:, 0]  # an exact tie, decided by the last bit of the exact sums
        alias = {m - 1: 0}
    if m >= 4 and draw(st.booleans()):
        noise = draw(st.sampled_from([1e-4, 1e-3]))
        b[:, m - 2] = b[:, 1] + noise * rng.standard_normal(tokens)  # a near-tie
    splits = sorted(draw(st.lists(st.integers(1, tokens - 1), max_size=4)))
    cover = draw(st.sampled_from([0, 1, max(n, m), n * m // 2, None]))
    return (a, b, splits, draw(st.integers(1, 2)), draw(st.integers(2, tokens)), alias,
            cover)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_random_streams_give_the_block_engines_pairs_and_an_honest_certificate(stream):
    """Pairs compared with B's exact duplicate (when planted) read as its original: which of
    two bit-for-bit equal partners wins depends on the last bit of each engine's sums."""
    a, b, splits, k, size, alias, cover = stream
    source = make_source(a, b, splits)
    block = match_neurons(source, k=k, candidates=k + 1, groups=2)
    found = match_two_stage(source, k=k, candidates=k + 1, groups=2, subsample=size, seed=1,
                            cover=cover)
    rechecked = match_two_stage(source, k=k, candidates=k + 1, groups=2, subsample=size,
                                seed=1, recheck_uncertified=True, block_rows=3, cover=0)

    def canon(pairs):
        return {(i, alias.get(j, j)) for i, j in pairs}

    assert canon(_pairs(rechecked)) == canon(_pairs(block)) and rechecked.certified_a.all()
    exact, truth = canon(_pairs(block)), _population_r(a, b)
    certified_b = found.certified_b.copy()
    for copy, original in alias.items():
        certified_b[original] &= certified_b[copy]
    sure = canon({(i, j) for i, j in _pairs(found) if found.certified_a[i] and certified_b[j]})
    assert sure <= exact  # a pair of certified neurons is a pair of the exact engine
    assert {(i, j) for i, j in exact if found.certified_a[i] or certified_b[j]
            } <= canon(_pairs(found))  # a certified neuron's exact pair is never missed
    graph = found.chunks
    for owner, lines, others, certified in (
            (truth, graph.edge_a, graph.edge_b, found.certified_a),
            (truth.T, graph.edge_b, graph.edge_a, found.certified_b)):
        for i in np.flatnonzero(certified & np.isfinite(owner).all(axis=1)):
            partners = others[lines == i]
            kth = np.sort(owner[i][partners])[::-1][min(k, len(partners)) - 1]
            outside = np.delete(owner[i], partners)
            assert np.all(outside <= kth + 1e-9)  # its exact top k are on the graph


def test_bad_options_are_refused_naming_them():
    a = np.random.default_rng(0).standard_normal((50, 3))
    source = make_source(a, a, [])
    with pytest.raises(ValueError, match="at least 1 token"):
        match_two_stage(source, subsample=0)
    with pytest.raises(ValueError, match="delta"):
        match_two_stage(source, delta=1.0)
    with pytest.raises(ValueError, match="float32, bfloat16 or float16"):
        match_two_stage(source, sample_dtype=torch.float64)
    with pytest.raises(ValueError, match="candidates"):
        match_two_stage(source, k=2, candidates=1)


def test_the_sample_can_live_on_disk(tmp_path):
    rng = np.random.default_rng(4)
    a = rng.standard_normal((500, 6))
    b = a + 0.3 * rng.standard_normal((500, 6))
    source = make_source(a, b, [100, 300])
    memory = match_two_stage(source, subsample=200)
    disk = match_two_stage(source, subsample=200, cache_dir=tmp_path)
    assert (tmp_path / "sample_a.bin").stat().st_size == 200 * 6 * 4
    assert _pairs(disk) == _pairs(memory) == {(i, i) for i in range(6)}
    assert disk.guarantee == memory.guarantee
