"""A TransformerLens TransformerBridge as a model source: its neurons are the bridge's
blocks.{layer}.mlp.hook_post, and a pair matched through it equals the same weights loaded
from files (skipped where transformer_lens is not installed)."""

import numpy as np
import pytest
import torch
import transformers

from empirics.capture.stimuli import default_corpus
from empirics.models.hooks import capture_mlp
from empirics.models.lens import from_transformer_lens
from empirics.models.registry import get_spec
from empirics.models.tokenizer import text_tokenizer
from empirics.pipeline.match import match_pair
from empirics.pipeline.options import MatchOptions
from empirics.records.match import MatchRecord
from tests.empirics.tiny_models import save_text_model, tiny_config, train_tokenizers

bridges = pytest.importorskip("transformer_lens.model_bridge")
OPTIONS = MatchOptions(batch=4, tokens=64, candidates=2, groups=0, examples=0)


def booted(folder):
    """The bridge over the model saved in `folder`, with its saved tokenizer."""
    model = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    tokenizer = text_tokenizer(folder)  # as saved (AutoTokenizer rebuilds a unigram one)
    return bridges.TransformerBridge.boot_transformers(str(folder), hf_model=model,
                                                       tokenizer=tokenizer)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    bpe, unigram = train_tokenizers()
    root = tmp_path_factory.mktemp("lens")
    for architecture, tokenizer in (("gpt2", bpe), ("llama", unigram), ("opt", bpe)):
        save_text_model(root / architecture, architecture, tokenizer, seed=3)
    return root


@pytest.mark.parametrize("architecture", ["gpt2", "llama", "opt"])
def test_the_neurons_are_the_bridges_hook_post(saved, architecture):
    bridge = booted(saved / architecture)
    loaded = from_transformer_lens(bridge, f"lens-{architecture}")
    assert loaded.architecture == architecture
    assert loaded.spec.n_layers == tiny_config(architecture).num_hidden_layers
    ids = torch.tensor([[1, 5, 9, 30, 2, 7]])
    with torch.inference_mode():
        _, cache = bridge.run_with_cache(ids)
        with capture_mlp(loaded.model, loaded.architecture) as captured:
            getattr(loaded.model, "base_model", loaded.model)(input_ids=ids, use_cache=False)
            layers = captured.activations(tuple(ids.shape))
    for layer, ours in enumerate(layers):
        theirs = cache[f"blocks.{layer}.mlp.hook_post"]
        torch.testing.assert_close(ours, theirs.reshape(ours.shape), rtol=1e-5, atol=1e-6)


def test_a_bridged_pair_matches_as_its_files_do_and_is_keyed_by_its_weights(saved, tmp_path):
    common = dict(family="language", inputs=default_corpus()[:8], options=OPTIONS,
                  device=torch.device("cpu"))
    a, b = (from_transformer_lens(booted(saved / n), n, tokenizer=text_tokenizer(saved / n))
            for n in ("gpt2", "llama"))
    bridged = MatchRecord.load(match_pair(a.spec, b.spec, models=(a, b), out=tmp_path / "lens",
                                          **common))
    files = MatchRecord.load(match_pair(a.spec, b.spec, paths=(saved / "gpt2", saved / "llama"),
                                        out=tmp_path / "files", **common))
    assert bridged.n_rosetta == files.n_rosetta > 0
    for name in ("unit_a", "unit_b"):
        np.testing.assert_array_equal(bridged.pairs[name], files.pairs[name])
    np.testing.assert_allclose(bridged.pairs["r"], files.pairs["r"], rtol=1e-5)
    first = match_pair(a.spec, b.spec, models=(a, b), out=tmp_path / "lens", **common)
    with torch.no_grad():
        next(a.model.parameters()).add_(1e-3)  # other weights under the same name
    with pytest.raises(ValueError, match="weights of gpt2 changed after from_transformer_lens"):
        match_pair(a.spec, b.spec, models=(a, b), out=tmp_path / "lens", **common)
    bridge = booted(saved / "gpt2")
    with torch.no_grad():
        next(bridge.original_model.parameters()).add_(1e-3)
    changed = from_transformer_lens(bridge, "gpt2", tokenizer=text_tokenizer(saved / "gpt2"))
    again = match_pair(a.spec, b.spec, models=(changed, b), out=tmp_path / "lens", **common)
    assert again != first

def test_what_is_not_a_bridge_is_refused_by_its_class():
    with pytest.raises(TypeError, match="ModuleList is not a TransformerLens 4"):
        from_transformer_lens(torch.nn.ModuleList(), "x")
    with pytest.raises(ValueError, match="--init random"):
        spec = get_spec("pythia-70m")
        match_pair(spec, spec, family="language", inputs=[], options=MatchOptions(
            init="random"), out=None, device=torch.device("cpu"), models=(None, None))
