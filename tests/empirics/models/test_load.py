"""The loader: local checkpoints, the untrained null at the real configuration, clear errors."""

import copy

import numpy as np
import pytest
import torch

from empirics.models.hooks import layer_widths
from empirics.models.load import MissingModelError, load_model
from empirics.models.registry import get_spec
from tests.empirics.tiny_models import save_text_model, save_vision_model, train_tokenizers


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizers()[0]


@pytest.mark.parametrize("architecture", ["gpt2", "opt", "gpt_neox", "qwen2"])
def test_saved_text_model_loads_with_its_tokenizer(tmp_path, tokenizer, architecture):
    spec = save_text_model(tmp_path, architecture, tokenizer)
    loaded = load_model(spec, path=tmp_path, dtype=torch.bfloat16)
    assert loaded.architecture == architecture and not loaded.model.training
    assert next(loaded.model.parameters()).dtype == torch.bfloat16
    assert layer_widths(loaded.model) == list(spec.layer_sizes)
    assert loaded.processor("héllo")["input_ids"] == tokenizer("héllo")["input_ids"]
    again = load_model(spec, path=tmp_path)
    for p, q in zip(loaded.model.parameters(), again.model.parameters()):
        torch.testing.assert_close(p.float(), q.float(), atol=1e-2, rtol=1e-2)


@pytest.mark.parametrize("architecture", ["gpt2", "qwen2"])
def test_a_saved_unigram_tokenizer_cuts_text_as_saved_whatever_the_model_type(tmp_path,
                                                                              architecture):
    """AutoTokenizer turns a qwen2 checkpoint's unigram tokenizer into a BPE without merges
    (single characters); the loader and the run's identity use what tokenizer.json does."""
    from tokenizers import Tokenizer

    from empirics.models.identity import weights_identity
    from empirics.models.tokenizer import PROBE, probe_ids

    unigram = train_tokenizers()[1]
    spec = save_text_model(tmp_path, architecture, unigram)
    saved = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    expected = saved.encode(PROBE, add_special_tokens=False).ids
    loaded = load_model(spec, path=tmp_path)
    assert probe_ids(loaded.processor) == expected
    identity = weights_identity(spec, path=tmp_path)
    assert set(identity["tokenizer"]) == {"class", "probe_sha256"}


def test_random_init_is_seeded_and_leaves_the_global_rng_alone(tmp_path, tokenizer):
    spec = save_text_model(tmp_path, "gpt2", tokenizer)
    trained = load_model(spec, path=tmp_path)
    state = torch.random.get_rng_state()
    first = load_model(spec, path=tmp_path, init="random", seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    second = load_model(spec, path=tmp_path, init="random", seed=3)
    other = load_model(spec, path=tmp_path, init="random", seed=4)
    weight = "transformer.h.0.mlp.c_fc.weight"
    params = [dict(m.model.named_parameters())[weight] for m in (trained, first, second, other)]
    assert torch.equal(params[1], params[2])
    assert not torch.equal(params[0], params[1]) and not torch.equal(params[1], params[3])
    assert first.identity["seed"] == 3 and first.init == "random"


def test_untrained_null_from_the_registry_configuration(tmp_path, tokenizer):
    tokenizer.save_pretrained(tmp_path)  # only the tokenizer is local: no config, no weights
    spec = get_spec("pythia-70m")
    loaded = load_model(spec, path=tmp_path, init="random")
    assert layer_widths(loaded.model) == list(spec.layer_sizes)
    assert sum(p.numel() for p in loaded.model.parameters()) == spec.n_params


def test_vision_model_and_processor(tmp_path):
    spec = save_vision_model(tmp_path, "dinov2")
    loaded = load_model(spec, path=tmp_path)
    assert loaded.architecture == "dinov2" and layer_widths(loaded.model) == [128, 128]
    assert type(loaded.processor).__name__.startswith("BitImageProcessor")


def test_open_clip_untrained_null_at_the_real_size():
    spec = get_spec("openclip-vit-b-16")
    loaded = load_model(spec, init="random")
    assert loaded.architecture == "open_clip_vit"
    assert layer_widths(loaded.model) == list(spec.layer_sizes)
    assert sum(p.numel() for p in loaded.model.parameters()) == spec.n_params


def test_missing_models_give_one_clear_message(tmp_path, tokenizer):
    empty = tmp_path / "hub"
    empty.mkdir()
    with pytest.raises(MissingModelError) as error:
        load_model(get_spec("pythia-160m"), cache_dir=empty)
    message = str(error.value)
    assert "hf download EleutherAI/pythia-160m" in message and f"cache {empty}." in message
    assert "--path-a/--path-b" in message and "--download" in message
    tokenizer.save_pretrained(tmp_path / "partial")
    with pytest.raises(MissingModelError, match=r"config.json, weights"):
        load_model(get_spec("pythia-160m"), path=tmp_path / "partial")
    with pytest.raises(MissingModelError, match="hf download laion/CLIP-ViT-B-16"):
        load_model(get_spec("openclip-vit-b-16"), cache_dir=empty)
    with pytest.raises(MissingModelError, match="open_clip_model.safetensors"):
        load_model(get_spec("openclip-vit-b-16"), path=empty)


def test_untrained_dinov2_needs_no_files(tmp_path):
    spec = get_spec("dinov2-small")
    loaded = load_model(spec, init="random", cache_dir=tmp_path)
    assert layer_widths(loaded.model) == list(spec.layer_sizes)
    pixels = loaded.processor(images=[np.zeros((300, 400, 3), np.uint8)], return_tensors="pt")
    assert tuple(pixels["pixel_values"].shape) == (1, 3, 224, 224)


def test_a_tokenizer_placing_the_same_ids_on_other_characters_has_another_identity():
    """Trimmed and untrimmed offsets (as TransformerLens rewrites GPT-2's) give the same ids
    but align text differently: the identity tells them apart."""
    from tokenizers import processors

    from empirics.models.tokenizer import probe_ids, probe_offsets, tokenization_identity

    byte_level = train_tokenizers()[0]
    trimmed = copy.deepcopy(byte_level)
    untrimmed = copy.deepcopy(byte_level)
    trimmed.backend_tokenizer.post_processor = processors.ByteLevel(trim_offsets=True)
    untrimmed.backend_tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    assert probe_ids(trimmed) == probe_ids(untrimmed)
    assert probe_offsets(trimmed) != probe_offsets(untrimmed)
    assert tokenization_identity(trimmed) != tokenization_identity(untrimmed)
