"""The replay of the official code's arithmetic, each approximation against a hand computation."""

import numpy as np
import pytest
import torch

from empirics.engine.matching import match_neurons
from empirics.engine.official import (
    EPS,
    TOP_T,
    match_official,
    official_block,
    official_r,
    official_stats,
)
from empirics.records.match import MatchRecord
from tests.empirics.conftest import make_source


def _bf16(value: float) -> float:
    return float(torch.tensor(value, dtype=torch.float32).to(torch.bfloat16).float())


def _pairs(found) -> dict:
    return dict(zip(zip(found.index_a.tolist(), found.index_b.tolist()),
                    found.correlation.tolist()))


def test_the_statistics_eps_shrinks_r_of_neurons_with_a_small_spread():
    rng = np.random.default_rng(0)
    g, h = rng.standard_normal((2, 8192))
    a = np.stack([0.01 * g, h], axis=1).astype(np.float32)
    b = np.stack([0.01 * g, 0.02 * h], axis=1).astype(np.float32)
    source = make_source(a, b, range(1024, 8192, 1024))
    stats_a, stats_b = official_stats(source)
    var_a, var_b = a.astype(np.float64).var(axis=0), b.astype(np.float64).var(axis=0)
    for stats, var in ((stats_a, var_a), (stats_b, var_b)):
        expected = torch.tensor(np.sqrt(var + EPS), dtype=torch.float32).to(torch.bfloat16)
        assert torch.equal(stats.std, expected)  # sqrt(var + 1e-4), cast to bfloat16
    found, exact = _pairs(match_official(source)), _pairs(match_neurons(source))
    assert set(found) == set(exact) == {(0, 0), (1, 1)}
    shrink = np.sqrt(var_a / (var_a + EPS) * var_b / (var_b + EPS))  # per side sqrt(v/(v+eps))
    assert shrink == pytest.approx([0.5, 0.894], abs=2e-3)
    for unit in (0, 1):
        assert exact[unit, unit] == pytest.approx(1.0, abs=1e-5)
        assert found[unit, unit] == pytest.approx(shrink[unit], abs=5e-3)


def test_the_bfloat16_accumulator_stops_growing_on_a_long_stream():
    # z = +-1 exactly (mean 0, std sqrt(1 + 1e-4) rounds to 1 in bfloat16), so every batch of
    # 64 samples adds exactly 64: the sum is exact up to 2^14, where 64 is half an ulp (128)
    # and rounding to even keeps 2^14 for ever after
    batch, signs = 64, np.tile([1.0, -1.0], 32).astype(np.float32)[:, None]
    for n_batches, acc in ((200, 200 * 64), (1000, 2**14)):
        x = np.tile(signs, (n_batches, 1))
        source = make_source(x, x.copy(), range(batch, len(x), batch))
        found = match_official(source)
        assert found.correlation.tolist() == [_bf16(acc / len(x))]
        assert match_neurons(source).correlation == pytest.approx(1.0)
    assert _bf16(2**14 / 64000) < 0.26  # the truth is 1: a long stream reads a quarter of it


def test_a_long_random_stream_reads_planted_correlations_low():
    rng = np.random.default_rng(1)
    g = rng.standard_normal((2**18, 3)).astype(np.float32)
    b = (0.8 * g + 0.6 * rng.standard_normal(g.shape)).astype(np.float32)
    source = make_source(g, b, range(256, len(g), 256))
    found, exact = match_official(source), match_neurons(source)
    assert np.array_equal(found.index_b, exact.index_b)
    assert exact.correlation == pytest.approx(0.8, abs=0.01)
    # increments of ~0.8 * 256 stop counting near 2^16: r reads ~2^16 / 2^18 = 0.25
    assert (found.correlation < 0.35 * exact.correlation).all()


def official_pairs(source, k, layers_a, layers_b, min_correlation=0.0) -> dict:
    """find_best_buddies.py transcribed step by step on the whole accumulator: per layer
    pair the top TOP_T along each side, each neuron's list merged over the other model's
    layers in increasing order, the A-side edges at or above the threshold intersected with
    the B-side edges."""
    stats = official_stats(source)
    acc = official_block(source, stats, slice(0, sum(layers_b)))
    offsets_a, offsets_b = np.cumsum([0, *layers_a]), np.cumsum([0, *layers_b])
    best = {"A": (torch.full((sum(layers_a), k), -torch.inf),
                  torch.full((sum(layers_a), k), -1)),
            "B": (torch.full((sum(layers_b), k), -torch.inf),
                  torch.full((sum(layers_b), k), -1))}

    def merge(side, lines, scores, ids):
        scores = scores[:, :k].float().masked_fill(scores[:, :k] < min_correlation, -torch.inf)
        old_scores, old_ids = best[side]
        values, order = torch.topk(torch.cat([old_scores[lines], scores], 1), k, dim=1)
        old_scores[lines], old_ids[lines] = values, torch.cat([old_ids[lines], ids[:, :k]],
                                                               1).gather(1, order)

    for i, j in [(i, j) for j in range(len(layers_b)) for i in range(len(layers_a))]:
        rows, cols = (slice(offsets_a[i], offsets_a[i + 1]),
                      slice(offsets_b[j], offsets_b[j + 1]))
        block = acc[rows, cols]
        values, index = torch.topk(block, min(TOP_T, block.shape[1]), dim=1)
        merge("A", rows, official_r(values, stats[0].count), index + cols.start)
        values, index = torch.topk(block, min(TOP_T, block.shape[0]), dim=0)
        merge("B", cols, official_r(values, stats[0].count).T, index.T + rows.start)
    (scores_a, ids_a), (_, ids_b) = best["A"], best["B"]
    a_side = {(a, int(b)): float(r) for a in range(len(ids_a))
              for b, r in zip(ids_a[a], scores_a[a]) if b >= 0 and r >= min_correlation}
    b_side = {(int(a), b) for b in range(len(ids_b)) for a in ids_b[b] if a >= 0}
    return {pair: r for pair, r in a_side.items() if pair in b_side}


def test_dead_neurons_take_part_at_zero_and_list_partners_in_topk_order():
    """Dead neurons (z = 0) meet everyone at r = 0 and keep the partners `torch.topk` lists
    first among equal values, as in the official code (the replay once sent their ties to
    the lower index, forming a dead pair (0, 0) at r = 0 that the official code does not)."""
    rng = np.random.default_rng(2)
    g = rng.standard_normal((4096, 60))
    a = g.copy()
    b = g[:, rng.permutation(60)] + 0.5 * rng.standard_normal((4096, 60))
    a[:, :6], b[:, :6] = 0.0, 3.0  # six dead neurons a side, at the lowest indices
    source = make_source(a.astype(np.float32), b.astype(np.float32), [1000, 2500])
    for k, layers_a, layers_b in ((1, [60], [60]), (3, [20, 40], [30, 30])):
        found = match_official(source, k=k, layers_a=layers_a, layers_b=layers_b)
        assert _pairs(found) == official_pairs(source, k, layers_a, layers_b)
        assert (0, 0) not in _pairs(found)
    assert found.dead_a.sum() == found.dead_b.sum() == 6
    assert (found.row_r[:6] == 0.0).all()  # z = 0: a dead neuron meets everyone at r = 0


def test_pairs_are_kept_at_r_at_least_zero():
    g = np.random.default_rng(3).standard_normal((2048, 1)).astype(np.float32)
    source = make_source(g, -g, [1024])  # each neuron's only partner, at r = -1
    assert _pairs(match_neurons(source)) == {(0, 0): pytest.approx(-1.0)}
    found = match_official(source)
    assert len(found.index_a) == 0 and found.min_correlation == 0.0
    # bfloat16 statistics can put |r| a little above 1 (here -1.0078)
    anticorrelated = _pairs(match_official(source, min_correlation=-2.0))
    assert anticorrelated[0, 0] == pytest.approx(-1.0, abs=1e-2)


@pytest.fixture
def well_scaled():
    rng = np.random.default_rng(4)
    tokens, n, m = 4096, 24, 32
    a = rng.standard_normal((tokens, n)) * rng.uniform(0.5, 3.0, n) + rng.uniform(-2, 2, n)
    b = rng.standard_normal((tokens, m))
    where = rng.permutation(m)[:n]
    b[:, where] = (a - a.mean(0)) / a.std(0) + rng.uniform(0.2, 0.8, n) * rng.standard_normal(
        (tokens, n))
    return a.astype(np.float32), b.astype(np.float32), where


def test_a_short_well_scaled_stream_gives_the_exact_pairs(well_scaled):
    a, b, where = well_scaled
    source = make_source(a, b, range(512, 4096, 512))
    found, exact = match_official(source), match_neurons(source)
    assert np.array_equal(found.index_a, np.arange(a.shape[1]))
    assert np.array_equal(found.index_b, where) and np.array_equal(exact.index_b, where)
    # std in bfloat16 is off by up to 2^-8 relative per side, and the accumulator rounds
    assert np.allclose(found.correlation, exact.correlation, atol=2e-2)
    assert not found.rechecked and found.chunks is None and found.passes == 2
    assert found.n_tokens == 4096 and found.k == 1 and not found.dead_a.any()


def test_column_blocks_and_kept_candidates_change_nothing(well_scaled):
    a, b, _ = well_scaled
    source = make_source(a, b, range(512, 4096, 512))
    layers = dict(layers_a=[12, 12], layers_b=[5, 5, 5, 5, 5, 5, 2])
    whole = match_official(source, k=2, candidates=3, **layers)
    blocked = match_official(source, k=2, candidates=3, block_cols=5, **layers)
    assert blocked.passes == 1 + 7 and whole.passes == 2
    assert _pairs(whole) == official_pairs(source, 2, [12, 12], [5, 5, 5, 5, 5, 5, 2])
    for name in ("index_a", "index_b", "correlation", "row_partners", "row_r", "col_partners",
                 "col_r"):
        np.testing.assert_array_equal(getattr(blocked, name), getattr(whole, name))
    assert whole.row_partners.shape == (24, 3) and whole.col_partners.shape == (32, 3)
    with pytest.raises(ValueError, match="candidates"):
        match_official(source, k=2, candidates=1)
    with pytest.raises(ValueError, match="model B: layer widths"):
        match_official(source, layers_b=[16, 15])


def test_the_replay_makes_a_match_record(well_scaled):
    a, b, _ = well_scaled
    found = match_official(make_source(a, b, [2048]))
    record = MatchRecord.from_matches(found, config={"replay": "official"}, family="test",
                                      model_a="a", model_b="b", size_a=1.0, size_b=1.0,
                                      layer_sizes_a=[12, 12], layer_sizes_b=[16, 16])
    assert record.n_rosetta == 24 and record.min_correlation == 0.0 and not record.rechecked
    assert record.chunks == {} and record.n_chunk_groups == 0


def test_bfloat16_batches_of_the_stream_are_left_as_they_are(well_scaled):
    a, b, _ = well_scaled
    batches = [(torch.from_numpy(a[i:i + 1024]).to(torch.bfloat16),
                torch.from_numpy(b[i:i + 1024]).to(torch.bfloat16)) for i in range(0, 4096, 1024)]
    copies = [(x.clone(), y.clone()) for x, y in batches]
    found = match_official(lambda: iter(batches))
    assert len(found.index_a) == 24
    assert all(torch.equal(x, cx) and torch.equal(y, cy)
               for (x, y), (cx, cy) in zip(batches, copies))
