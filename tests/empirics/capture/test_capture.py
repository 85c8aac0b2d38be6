"""Aligned activation streams from two real (tiny) models, the cache, and the engine on them."""

import numpy as np
import pytest
import torch

from empirics.capture.align import align_tokens, pool_spans, tokenize_with_bytes
from empirics.capture.cache import CacheMismatchError
from empirics.capture.pair import image_pair_source, text_pair_source
from empirics.capture.stimuli import default_corpus, synthetic_images
from empirics.engine.matching import match_neurons
from empirics.models.hooks import capture_mlp
from empirics.models.load import load_model
from tests.empirics.tiny_models import (
    save_text_model,
    save_vision_model,
    tiny_open_clip,
    train_tokenizers,
)


@pytest.fixture(scope="module")
def text_models(tmp_path_factory):
    bpe, unigram = train_tokenizers()
    root = tmp_path_factory.mktemp("models")
    spec_a = save_text_model(root / "a", "gpt_neox", bpe, seed=1)
    spec_b = save_text_model(root / "b", "qwen2", unigram, seed=2)
    return load_model(spec_a, path=root / "a"), load_model(spec_b, path=root / "b")


def _collect(source):
    return [(a.clone(), b.clone()) for a, b in source()]


def test_text_stream_is_aligned_deterministic_and_whole_documents(text_models):
    model_a, model_b = text_models
    documents = default_corpus()[:7]
    pair = text_pair_source(model_a, model_b, documents, docs_per_batch=3)
    first, second = _collect(pair.source), _collect(pair.source)
    assert pair.n_batches == len(first) == 3
    assert pair.layer_sizes_a == (64, 64) and pair.layer_sizes_b == (48, 48)
    for (a, b), (a2, b2) in zip(first, second):
        assert a.shape[0] == b.shape[0] and a.shape[1] == 128 and b.shape[1] == 96
        assert torch.equal(a, a2) and torch.equal(b, b2)
    assert sum(a.shape[0] for a, _ in first) == pair.manifest["n_samples"]
    table = pair.sample_table()
    assert len(table["input"]) == pair.manifest["n_samples"]
    assert np.all(np.diff(table["input"]) >= 0) and set(table["input"]) == set(range(7))
    for doc in range(7):  # spans of a document are ordered, disjoint and inside its bytes
        starts, ends = (table[key][table["input"] == doc] for key in ("start", "end"))
        assert np.all(starts < ends) and np.all(ends[:-1] <= starts[1:])
        assert starts[0] >= 0 and ends[-1] <= len(documents[doc].text.encode("utf-8"))


def test_padded_batches_equal_single_document_runs(text_models):
    model_a, model_b = text_models
    documents = default_corpus()[3:6]
    (a, b), = _collect(text_pair_source(model_a, model_b, documents, docs_per_batch=3).source)
    rows = []
    for document in documents:  # one document alone, no padding, pooled by hand
        ta = tokenize_with_bytes(model_a.processor, document.text)
        tb = tokenize_with_bytes(model_b.processor, document.text)
        al = align_tokens(ta, tb)
        with torch.no_grad(), capture_mlp(model_a.model) as captured:
            model_a.model(input_ids=torch.from_numpy(ta.input_ids)[None])
            layers = captured.activations((1, len(ta.input_ids)))
        rows.append(torch.cat([pool_spans(x[0], al.span_a, al.n_spans) for x in layers], 1))
    torch.testing.assert_close(a, torch.cat(rows), atol=1e-5, rtol=1e-4)
    assert b.shape[0] == a.shape[0]


def test_model_matched_with_itself_finds_every_live_neuron(text_models):
    model_a, _ = text_models
    pair = text_pair_source(model_a, model_a, default_corpus(), docs_per_batch=8)
    matches = match_neurons(pair.source, k=1)
    live = ~matches.dead_a
    assert len(matches.index_a) == int(live.sum()) > 100
    assert np.array_equal(matches.index_a, matches.index_b)
    assert np.allclose(matches.correlation, 1.0, atol=1e-5)


def test_two_untrained_seeds_share_few_neurons(tmp_path, text_models):
    tokenizer = text_models[0].processor
    spec = save_text_model(tmp_path, "gpt_neox", tokenizer)
    seeds = [load_model(spec, path=tmp_path, init="random", seed=s) for s in (1, 2)]
    matches = match_neurons(text_pair_source(*seeds, default_corpus()).source, k=1)
    assert len(matches.index_a) < 0.5 * int((~matches.dead_a).sum())
    assert matches.correlation.max() < 0.9


def test_cache_replays_the_stream_and_refuses_another(tmp_path, text_models):
    model_a, model_b = text_models
    documents = default_corpus()[:4]
    pair = text_pair_source(model_a, model_b, documents, docs_per_batch=2, cache_dir=tmp_path,
                            store_dtype=torch.float16)
    computed = _collect(pair.source)
    assert sorted(p.name for p in tmp_path.glob("*.safetensors")) == ["batch_00000.safetensors",
                                                                      "batch_00001.safetensors"]
    replay = text_pair_source(model_a, model_b, documents, docs_per_batch=2, cache_dir=tmp_path,
                              store_dtype=torch.float16)
    calls = []
    handle = model_a.model.register_forward_pre_hook(lambda *args: calls.append(1))
    try:
        cached = _collect(replay.source)
    finally:
        handle.remove()
    assert not calls and cached[0][0].dtype == torch.float16
    for (a, b), (a2, b2) in zip(computed, cached):
        assert torch.equal(a, a2) and torch.equal(b, b2)
    with pytest.raises(CacheMismatchError, match="inputs"):
        text_pair_source(model_a, model_b, default_corpus()[1:4], docs_per_batch=2,
                         cache_dir=tmp_path, store_dtype=torch.float16)
    with pytest.raises(CacheMismatchError, match="docs_per_batch"):
        text_pair_source(model_a, model_b, documents, docs_per_batch=3, cache_dir=tmp_path,
                         store_dtype=torch.float16)


def test_image_stream_resamples_to_model_b_grid(tmp_path):
    dinov2 = load_model(save_vision_model(tmp_path, "dinov2"), path=tmp_path)  # 4x4 patches
    clip = tiny_open_clip()  # 3x3 patches
    images = synthetic_images(5, size=64, seed=1)
    pair = image_pair_source(dinov2, clip, images, images_per_batch=2)
    batches = _collect(pair.source)
    assert [a.shape for a, _ in batches] == [(18, 256), (18, 256), (9, 256)]
    assert [b.shape for _, b in batches] == [(18, 256), (18, 256), (9, 256)]
    assert pair.manifest["prefix_tokens"] == [1, 1]
    table = pair.sample_table()
    assert list(table["input"][:10]) == [0] * 9 + [1]
    assert list(zip(table["row"][:4], table["col"][:4])) == [(0, 0), (0, 1), (0, 2), (1, 0)]
    for (a, b), (a2, b2) in zip(batches, _collect(pair.source)):
        assert torch.equal(a, a2) and torch.equal(b, b2)
    fine = image_pair_source(clip, dinov2, images[:2], images_per_batch=2, target_grid=(6, 6))
    (a, b), = _collect(fine.source)
    assert a.shape == (72, 256) and b.shape == (72, 256)


def test_synthetic_images_are_reproducible():
    first, again = synthetic_images(3, size=32, seed=5), synthetic_images(3, size=32, seed=5)
    assert [x.sha256 for x in first] == [x.sha256 for x in again]
    assert len({x.sha256 for x in first}) == 3 and first[0].image.size == (32, 32)
