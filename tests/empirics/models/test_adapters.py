"""An architecture added as an adapter: registered in the test, no existing module touched,
run through the real path (detection, hooks, capture, the spec read from its config, a match).

BLOOM is a real transformers architecture the package does not register: its MLP is
GELU(dense_h_to_4h x) read by dense_4h_to_h, its final norm ``ln_f``.
"""

import pytest
import torch
import transformers

from empirics.match import main
from empirics.models.adapters import Architecture, Registry
from empirics.models.architectures import ARCHITECTURES
from empirics.models.detect import UnsupportedModelError, spec_from_config
from empirics.models.hooks import architecture_of, capture_mlp, layer_widths
from empirics.records.match import MatchRecord
from tests.empirics.tiny_models import VOCAB, save_text_model, train_tokenizers

BLOOM = Architecture(name="bloom", hook_points=("h.{layer}.mlp.dense_4h_to_h",),
                     modality="text", model_types=("bloom",), final_norm=("ln_f",),
                     depth_field="n_layer", width_field="hidden_size")

FAST = ["--device", "cpu", "--docs", "4", "--tokens", "64", "--examples", "0", "--groups", "0",
        "--candidates", "2"]


def tiny_bloom(seed: int = 0) -> transformers.PreTrainedModel:
    config = transformers.BloomConfig(hidden_size=32, n_layer=3, n_head=2, vocab_size=VOCAB)
    torch.manual_seed(seed)
    return transformers.AutoModelForCausalLM.from_config(config).eval()


def test_an_unregistered_architecture_is_refused_then_hooked_once_registered():
    model = tiny_bloom()
    with pytest.raises(ValueError, match="model type 'bloom'.*empirics.models.architectures"):
        architecture_of(model)
    with ARCHITECTURES.added(BLOOM):
        assert architecture_of(model) == "bloom"
        assert layer_widths(model) == [128, 128, 128]
        ids = torch.randint(0, VOCAB, (2, 7))
        seen = []
        fc = [block.mlp.dense_h_to_4h for block in model.transformer.h]
        handles = [m.register_forward_hook(lambda m, i, o: seen.append(o)) for m in fc]
        try:
            with torch.no_grad(), capture_mlp(model) as captured:
                model(input_ids=ids)
        finally:
            for handle in handles:
                handle.remove()
        layers = captured.activations((2, 7))
        gelu = model.transformer.h[0].mlp.gelu_impl
        for layer, pre in zip(layers, seen):
            assert torch.allclose(layer, gelu(pre), atol=1e-6)  # the post-GELU neuron
        spec = spec_from_config("my-bloom", model.config, family="local")
        assert (spec.architecture, spec.kind, spec.n_layers, spec.d_mlp) == ("bloom", "text",
                                                                              3, 128)
        assert spec.n_params == sum(p.numel() for p in model.parameters())
    assert "bloom" not in ARCHITECTURES  # the registration ends with the block
    with pytest.raises(UnsupportedModelError, match="bloom"):
        spec_from_config("my-bloom", model.config, family="local")


def test_a_registered_architecture_is_matched_end_to_end(tmp_path, capsys):
    bpe, unigram = train_tokenizers()
    folder = tmp_path / "my-bloom"
    tiny_bloom(seed=1).save_pretrained(folder)
    bpe.save_pretrained(folder)
    save_text_model(tmp_path / "my-gpt2", "gpt2", unigram, seed=2)
    argv = ["--family", "language", "--pair", str(folder), str(tmp_path / "my-gpt2"),
            "--out", str(tmp_path / "runs"), *FAST]
    with pytest.raises(SystemExit) as exit_info:  # not registered: refused by its class
        main(argv)
    assert exit_info.value.code == 2
    assert "BloomConfig (model type 'bloom') has no known MLP" in capsys.readouterr().err
    with ARCHITECTURES.added(BLOOM):
        [directory] = main(argv)
    record = MatchRecord.load(directory)
    assert record.config["architectures"] == ["bloom", "gpt2"]
    assert list(record.layer_sizes_a) == [128] * 3 and list(record.layer_sizes_b) == [128] * 2
    assert record.n_tokens > 0


def test_a_registry_refuses_a_second_entry_under_a_name_and_names_the_known_ones():
    registry = Registry("architecture", (BLOOM,), where="a test")
    assert registry.add(BLOOM) is BLOOM  # the same entry again is no change
    with pytest.raises(ValueError, match="another architecture is registered as 'bloom'"):
        registry.add(Architecture("bloom", ("h.{layer}.other",), "text"))
    with pytest.raises(ValueError, match="registered already"), registry.added(BLOOM):
        pass
    with pytest.raises(KeyError, match="unknown architecture 'gpt2'; known: bloom"):
        registry.get("gpt2")
    with pytest.raises(ValueError, match="modality"):
        Architecture("x", ("a.{layer}",), "audio")
    with pytest.raises(ValueError, match="layer index"):
        Architecture("x", ("a.b",), "text")


def test_every_registered_architecture_names_its_hook_points_and_trained_ones_build():
    for entry in ARCHITECTURES:
        assert entry.hook_point.startswith("input of ")
    trained = [a for a in ARCHITECTURES if a.trainable]
    assert {a.name for a in trained} == {"gpt2", "qwen2"}
    for entry in trained:
        config = entry.small_config(32, 2, 2, entry.mlp_width(32), 64, vocab_size=VOCAB)
        model = transformers.AutoModelForCausalLM.from_config(config)
        assert architecture_of(model) == entry.name
        assert layer_widths(model) == [entry.mlp_width(32)] * 2
        assert getattr(config, entry.depth_field) == 2
        assert getattr(config, entry.width_field) == 32
