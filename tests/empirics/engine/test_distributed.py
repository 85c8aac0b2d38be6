"""The engine over two gloo processes: data and neuron splits equal one process; a failing
rank fails the run, which then resumes."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from empirics.capture.stimuli import default_corpus
from empirics.engine.checkpoint import MatchState
from empirics.engine.distributed import Ranks, free_port, run_local_ranks, shard_inputs
from empirics.engine.matching import _neuron_share, match_neurons
from empirics.engine.two_stage import match_two_stage
from empirics.pipeline.match import match_pair
from empirics.pipeline.options import MatchOptions
from empirics.records.match import MatchRecord
from tests.empirics.conftest import make_source
from tests.empirics.rank_workers import (
    OPTIONS,
    SPLITS,
    TWO_STAGE,
    match_on_ranks,
    planted_arrays,
    two_stage_on_ranks,
)
from tests.empirics.tiny_models import save_text_model, train_tokenizers


def _single(**options):
    return match_neurons(make_source(*planted_arrays(), SPLITS), **(OPTIONS | options))


def _assert_same_matches(merged, single, atol=1e-9):
    """Same pairs and partners; the pairs' r (float64 candidate-pass sums) within `atol`,
    the block passes' r within the engine's float32 bound (docs/matching.md: 1e-6), since
    each rank rounds its own float32 partial sums."""
    assert np.array_equal(merged["index_a"], single.index_a)
    assert np.array_equal(merged["index_b"], single.index_b)
    assert len(single.index_a) >= 30
    np.testing.assert_allclose(merged["r"], single.correlation, rtol=0, atol=atol)
    for name in ("row_partners", "col_partners"):
        assert np.array_equal(merged[name], getattr(single, name))
    for name in ("row_r", "col_r"):
        np.testing.assert_allclose(merged[name], getattr(single, name), rtol=0, atol=1e-6)


def test_data_split_over_two_ranks_equals_one_process(tmp_path):
    assert run_local_ranks(match_on_ranks, 2, "data", str(tmp_path)) == [0, 0]
    single = _single()
    merged = np.load(tmp_path / "rank-0.npz")
    _assert_same_matches(merged, single)
    assert int(merged["n_tokens"]) == single.n_tokens == 3000
    for name, value in single.chunks.as_arrays().items():  # per-group bootstrap sums
        np.testing.assert_allclose(merged[f"chunks_{name}"], value, rtol=1e-12, atol=1e-9)
    other = np.load(tmp_path / "rank-1.npz")
    assert all(np.array_equal(other[name], merged[name]) for name in merged.files)


def test_a_failing_rank_fails_the_run_and_the_run_resumes(tmp_path):
    checkpoint = tmp_path / "state"
    codes = run_local_ranks(match_on_ranks, 2, "data", str(tmp_path), 1, str(checkpoint),
                            timeout_s=20)
    assert codes[0] != 0 and codes[1] != 0
    assert not list(tmp_path.glob("rank-*.npz"))
    assert MatchState.load(checkpoint).done_blocks == 1  # the last finished block's state
    again = run_local_ranks(match_on_ranks, 2, "data", str(tmp_path), -1, str(checkpoint))
    assert again == [0, 0]
    resumed, single = np.load(tmp_path / "rank-0.npz"), _single()
    _assert_same_matches(resumed, single)
    assert int(resumed["passes"]) < single.passes  # the first block was not redone


def test_neuron_split_top_k_equals_the_unblocked_result(tmp_path):
    assert run_local_ranks(match_on_ranks, 2, "neurons", str(tmp_path)) == [0, 0]
    unblocked = _single(block_rows=40)
    merged = np.load(tmp_path / "rank-0.npz")
    _assert_same_matches(merged, unblocked)
    assert int(merged["passes"]) < 40 // 16 + 2  # rank 0 made its share of the passes
    for name, value in unblocked.chunks.as_arrays().items():
        np.testing.assert_allclose(merged[f"chunks_{name}"], value, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("recheck", [False, True])
def test_two_stage_over_two_ranks_equals_one_process(tmp_path, recheck):
    """Each rank reads half the batches; the merged sample is the one process's (same
    tokens), the screen splits A's rows, the exact passes sum over the ranks: same pairs,
    same r, same candidates, certificate and chunk sums on both ranks."""
    assert run_local_ranks(two_stage_on_ranks, 2, str(tmp_path), recheck) == [0, 0]
    one = match_two_stage(make_source(*planted_arrays(), SPLITS), recheck_uncertified=recheck,
                          **TWO_STAGE)
    assert len(one.index_a) >= 30 and one.guarantee["uncertified_b"] > 0
    assert one.passes > 2 if recheck else one.passes == 2
    for rank in (0, 1):
        merged = np.load(tmp_path / f"rank-{rank}.npz")
        _assert_same_matches(merged, one)
        assert int(merged["n_tokens"]) == 3000 and int(merged["passes"]) == one.passes
        for name, value in one.chunks.as_arrays().items():
            np.testing.assert_allclose(merged[f"chunks_{name}"], value, rtol=1e-12, atol=1e-9)
        certified = np.load(tmp_path / f"certified-{rank}.npz")
        assert np.array_equal(certified["a"], one.certified_a)
        assert np.array_equal(certified["b"], one.certified_b)
        assert str(certified["guarantee"]) == repr(sorted(one.guarantee.items()))


def test_two_stage_refuses_a_neuron_split_before_reading_the_stream():
    def never():
        raise AssertionError("the stream was read")

    with pytest.raises(ValueError, match="--split data"):
        match_two_stage(never, ranks=Ranks(0, 2, "neurons"))


def test_shards_cover_every_batch_once_in_stream_order():
    items = list(range(23))
    shards = [shard_inputs(items, 4, Ranks(rank, 3)) for rank in range(3)]
    batches = [shards[i % 3][4 * (i // 3): 4 * (i // 3) + 4] for i in range(6)]
    assert sum(batches, []) == items
    with pytest.raises(ValueError, match="fewer than the 3 ranks"):
        shard_inputs(items[:8], 4, Ranks(0, 3))
    with pytest.raises(ValueError, match="outside a world"):
        Ranks(2, 2)
    assert [list(Ranks(r, 3, "neurons").block_share(7)) for r in range(3)] == [
        [0, 1], [2, 3], [4, 5, 6]]
    for n, world in [(5, 4), (41, 3), (40, 2), (7, 7)]:  # every rank of a neuron split works
        rows = _neuron_share(n, 64, world)
        shares = [Ranks(r, world, "neurons").block_share(-(-n // rows)) for r in range(world)]
        assert all(len(share) for share in shares) and shares[-1].stop == -(-n // rows)


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    bpe, unigram = train_tokenizers()
    root = tmp_path_factory.mktemp("dist-models")
    return root, save_text_model(root / "a", "gpt_neox", bpe, seed=1), \
        save_text_model(root / "b", "opt", unigram, seed=2)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["block", "two-stage"])
def test_torchrun_match_writes_the_single_process_record(saved_models, tmp_path, engine):
    root, spec_a, spec_b = saved_models
    common = ["--family", "language", "--docs", "12", "--batch", "2", "--tokens", "96",
              "--groups", "4", "--examples", "0", "--device", "cpu", "--null", "permuted",
              "--engine", engine, "--subsample", "200"]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path.cwd()))
    command = [str(Path(sys.executable).parent / "torchrun"), "--nproc-per-node", "2",
               "--master-addr", "127.0.0.1", "--master-port", str(free_port()),
               "-m", "empirics.match", "--pair", "tiny-neox", "tiny-opt",
               "--path-a", str(root / "a"), "--path-b", str(root / "b"),
               "--out", str(tmp_path / "two"), *common]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    (two,) = (tmp_path / "two" / "match").glob("*/record.json")
    options = MatchOptions(null="permuted", batch=2, tokens=96, groups=4, examples=0,
                           engine=engine, subsample=200)
    from empirics.models.detect import resolve_spec
    from empirics.pipeline.options import InputChoice
    from empirics.pipeline.pairs import inputs_for

    # what the command draws for --docs 12, and what its record states of it
    inputs, provenance = inputs_for("language", InputChoice(docs=12))
    one = match_pair(resolve_spec("tiny-neox", root / "a"), resolve_spec("tiny-opt", root / "b"),
                     family="language", inputs=inputs,
                     provenance=provenance, options=options, out=tmp_path / "one",
                     device=torch.device("cpu"), paths=(root / "a", root / "b"))
    assert two.parent.name == one.name  # same configuration, same run directory
    merged, single = MatchRecord.load(two.parent), MatchRecord.load(one)
    assert merged.n_rosetta == single.n_rosetta and merged.n_tokens == single.n_tokens
    for name in single.pairs:
        np.testing.assert_allclose(merged.pairs[name], single.pairs[name], atol=1e-6)
    for name in single.chunks:
        np.testing.assert_allclose(merged.chunks[name], single.chunks[name], atol=1e-6)
    assert merged.config["capture"] == single.config["capture"]


def test_a_model_spread_by_a_device_map_captures_the_same_activations(saved_models):
    """Layers placed by accelerate (layer 1 offloaded to disk, run through accelerate's
    hooks) give the activations of the model loaded whole."""
    from empirics.capture.pair import text_pair_source
    from empirics.models.load import load_model

    root, spec, _ = saved_models
    placement = {f"gpt_neox.{name}": "cpu" for name in
                 ("embed_in", "emb_dropout", "layers.0", "final_layer_norm", "rotary_emb")}
    placement |= {"gpt_neox.layers.1": "disk", "lm_head": "cpu"}
    spread = load_model(spec, path=root / "a", device_map=placement,
                        max_memory={"cpu": "2GiB"})
    assert hasattr(spread.model.gpt_neox.layers[1], "_hf_hook")  # dispatched by accelerate
    whole = load_model(spec, path=root / "a")
    pair = text_pair_source(spread, whole, default_corpus()[:4], docs_per_batch=2,
                            max_tokens=64)
    batches = list(pair.source())
    assert len(batches) == 2 and batches[0][0].shape[1] == sum(pair.layer_sizes_a)
    for a, b in batches:
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
