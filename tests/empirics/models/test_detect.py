"""Any model: a spec read from the model's own configuration (checkpoint folders, Hugging Face
ids in the cache, open_clip tags), checked against the model as loaded."""

import pytest
import torch
import transformers

from empirics.models.detect import UnsupportedModelError, resolve_model
from empirics.models.hooks import layer_widths
from empirics.models.identity import weights_identity
from empirics.models.load import load_model
from empirics.models.missing import MissingModelError
from empirics.models.unembedding import effective_unembedding
from tests.empirics.tiny_models import (
    hub_entry,
    save_text_model,
    save_vision_model,
    train_tokenizers,
)

TEXT = ["gpt2", "opt", "gpt_neox", "qwen2", "llama", "mistral", "qwen3"]


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizers()[0]


@pytest.mark.parametrize("architecture", TEXT)
def test_a_checkpoint_folder_is_read_from_its_own_config(tmp_path, tokenizer, architecture):
    folder = tmp_path / f"my-{architecture}"
    save_text_model(folder, architecture, tokenizer)
    spec, path = resolve_model(str(folder))
    assert (spec.name, spec.kind, spec.architecture, path) == (folder.name, "text",
                                                                architecture, folder)
    loaded = load_model(spec, path=path)  # refuses a spec that differs from the model
    model = transformers.AutoModelForCausalLM.from_pretrained(folder)
    assert layer_widths(loaded.model) == [spec.d_mlp] * spec.n_layers == layer_widths(model)
    assert spec.n_params == sum(p.numel() for p in model.parameters())
    assert spec.n_layers == 2 and spec.d_mlp == {"gpt2": 128, "opt": 64, "gpt_neox": 64,
                                                 "qwen2": 48}.get(architecture, 40)
    unembedding = effective_unembedding(loaded)  # empirics.analyze --vocabulary reads it
    assert unembedding.centre == (architecture in ("gpt2", "opt", "gpt_neox"))


@pytest.mark.parametrize("architecture", ["dinov2", "dinov2_swiglu"])
def test_a_vision_checkpoint_folder(tmp_path, architecture):
    save_vision_model(tmp_path / "vit", architecture)
    spec, path = resolve_model("mine", tmp_path / "vit")
    assert (spec.name, spec.kind, spec.architecture, spec.prefix_tokens) == (
        "mine", "vision", architecture, 1)
    loaded = load_model(spec, path=path)
    assert layer_widths(loaded.model) == list(spec.layer_sizes)
    assert spec.n_params == loaded.n_params


def test_an_architecture_without_a_hook_point_is_refused_by_its_class(tmp_path):
    config = transformers.BertConfig(hidden_size=32, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=64)
    transformers.BertModel(config).save_pretrained(tmp_path / "bert")
    with pytest.raises(UnsupportedModelError, match=r"BertConfig \(model type 'bert'\)"):
        resolve_model(str(tmp_path / "bert"))


def test_an_unknown_name_lists_the_ways_to_name_a_model(tmp_path):
    with pytest.raises(KeyError, match="unknown model 'nothing-here'.*checkpoint folder"):
        resolve_model("nothing-here")
    with pytest.raises(KeyError, match="no config.json in"):
        resolve_model("nothing-here", tmp_path)


def test_a_hugging_face_id_is_read_from_the_cache_and_keyed_by_its_blobs(tmp_path, tokenizer):
    save_text_model(tmp_path / "files", "llama", tokenizer)
    cache = tmp_path / "hub"
    hub_entry(cache, "someone/tiny-llama", tmp_path / "files")
    spec, path = resolve_model("someone/tiny-llama", cache_dir=cache)
    assert (spec.name, spec.hf_id, spec.architecture, path) == (
        "someone/tiny-llama", "someone/tiny-llama", "llama", None)
    loaded = load_model(spec, cache_dir=cache)
    assert loaded.n_params == spec.n_params
    identity = weights_identity(spec, cache_dir=cache)
    assert identity["files"]["model.safetensors"].startswith("blob:")
    save_text_model(tmp_path / "files", "llama", tokenizer, seed=5)  # new weights, same id
    hub_entry(cache, "someone/tiny-llama", tmp_path / "files", revision="1" * 40)
    assert weights_identity(spec, cache_dir=cache) != identity


def test_a_hugging_face_id_not_in_the_cache_names_the_cache_and_the_flags(tmp_path):
    with pytest.raises(MissingModelError) as error:
        resolve_model("someone/absent-model", cache_dir=tmp_path)
    message = str(error.value)
    assert "missing config.json" in message and f"the Hugging Face cache {tmp_path}" in message
    assert "hf download someone/absent-model" in message and "--download" in message


def test_an_open_clip_tag_outside_the_registry():
    spec, path = resolve_model("ViT-B-32@laion2b_s34b_b79k")
    assert (spec.loader, spec.open_clip, spec.architecture, path) == (
        "open_clip", ("ViT-B-32", "laion2b_s34b_b79k"), "open_clip_vit", None)
    loaded = load_model(spec, init="random")  # the real size, checked against the spec
    assert layer_widths(loaded.model) == [3072] * 12 and loaded.n_params == spec.n_params
    assert resolve_model("ViT-B-16@laion2b_s34b_b88k")[0].name == "openclip-vit-b-16"
    with pytest.raises(KeyError, match="its tags: "):
        resolve_model("ViT-B-32@no-such-tag")


def test_registry_names_and_local_copies_are_unchanged(tmp_path):
    spec, path = resolve_model("pythia-70m", tmp_path)
    assert spec.name == "pythia-70m" and path == tmp_path
    assert resolve_model("EleutherAI/pythia-70m")[0].name == "pythia-70m"
    assert torch.empty(1).device.type == "cpu"  # the meta builds leave the default device
