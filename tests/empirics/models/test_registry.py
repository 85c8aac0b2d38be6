"""The registry's data agree with the architectures they describe (meta-device builds)."""

import open_clip
import pytest
import torch
import transformers

from empirics.models.architectures import ARCHITECTURES
from empirics.models.hooks import layer_widths
from empirics.models.pmf import PREFIX_TOKENS, PixelMeanFlow, PmfConfig
from empirics.models.registry import SPECS, family_specs, get_spec, matched_pairs
from theory.toy.config import ToyConfig
from theory.toy.model import init_toy_nets


def _meta_model(spec):
    if spec.loader == "toy":
        config = ToyConfig(n_features=spec.config["n_features"], widths=(spec.config["width"],),
                           seeds=(0,))
        return init_toy_nets(config)
    if spec.loader == "pmf":
        with torch.device("meta"):
            return PixelMeanFlow(PmfConfig.from_items(spec.config))
    with torch.device("meta"):
        if spec.loader == "open_clip":
            return open_clip.create_model(spec.open_clip[0], pretrained=None,
                                          device="meta").visual
        config = dict(spec.config)
        config = transformers.AutoConfig.for_model(config.pop("model_type"), **config)
        if spec.kind == "text":
            return transformers.AutoModelForCausalLM.from_config(config)
        return transformers.AutoModel.from_config(config)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_spec_matches_its_architecture(spec):
    model = _meta_model(spec)
    assert sum(p.numel() for p in model.parameters()) == spec.n_params
    if spec.loader == "toy":
        assert list(model.w_out.shape[1:2]) == list(spec.layer_sizes)
    else:
        assert layer_widths(model, spec.architecture) == list(spec.layer_sizes)
    assert spec.n_neurons == spec.n_layers * spec.d_mlp
    assert ARCHITECTURES.get(spec.architecture).hook_point.startswith("input of ")


def test_families_and_identifiers():
    assert len({s.name for s in SPECS}) == len(SPECS)
    assert [s.name for s in family_specs("gpt2")] == ["gpt2-124m", "gpt2-355m", "gpt2-774m",
                                                      "gpt2-1.5b"]
    assert get_spec("EleutherAI/pythia-1.4b").name == "pythia-1.4b"
    assert get_spec("openclip-vit-bigg-14").open_clip == ("ViT-bigG-14", "laion2b_s39b_b160k")
    for spec in family_specs("openclip"):
        hub = open_clip.get_pretrained_cfg(*spec.open_clip)["hf_hub"]
        assert hub.startswith("timm/eva02_enormous" if "EVA" in spec.open_clip[0] else "laion/")
    with pytest.raises(KeyError, match="holds several models"):
        get_spec("Lyy0725/pMF")
    assert get_spec("facebook/dinov3-vitb16-pretrain-lvd1689m").name == "dinov3-vitb16"
    with pytest.raises(KeyError, match="unknown model"):
        get_spec("pythia-7b")
    with pytest.raises(KeyError, match="unknown family"):
        family_specs("llama")


def test_matched_pairs_at_each_scale():
    pairs = [(a.name, b.name) for a, b in matched_pairs("pythia", "opt")]
    assert pairs == [("pythia-160m", "opt-125m"), ("pythia-410m", "opt-350m"),
                     ("pythia-1.4b", "opt-1.3b"), ("pythia-2.8b", "opt-2.7b"),
                     ("pythia-6.9b", "opt-6.7b"), ("pythia-12b", "opt-13b")]
    vision = [(a.name, b.name) for a, b in matched_pairs("openclip", "dinov2")]
    assert vision == [("openclip-vit-b-16", "dinov2-base"), ("openclip-vit-l-14", "dinov2-large"),
                      ("openclip-vit-g-14", "dinov2-giant")]


def test_the_new_vision_families_have_the_papers_sizes():
    generators = family_specs("pmf") + family_specs("pmf-512")
    pmf = {s.name: (s.n_layers, s.d_mlp, s.n_neurons, round(s.n_params / 1e6, 1))
           for s in generators}
    assert pmf["pmf-b-16"] == (16, 2048, 32768, 118.2)
    assert pmf["pmf-l-16"] == (32, 2730, 87360, 410.3)
    assert pmf["pmf-h-16"] == (48, 3416, 163968, 955.5)
    assert len(generators) == 6
    for spec in generators:
        config = PmfConfig.from_items(spec.config)
        assert spec.prefix_tokens == PREFIX_TOKENS == 20 and config.grid == 16
        assert config.image_size == {16: 256, 32: 512}[config.patch_size]
    eva = get_spec("openclip-eva02-e-14")
    assert (eva.n_layers, eva.d_mlp, eva.n_neurons, eva.prefix_tokens) == (64, 15360, 983040, 1)
    assert [s.config["use_gated_mlp"] for s in family_specs("dinov3")] == [
        False, True, False, False, True, True]


@pytest.mark.parametrize("towers, expected", [
    ("openclip", ["openclip-vit-b-16", "openclip-vit-l-14", "openclip-vit-g-14"]),
    ("dinov2", ["dinov2-base", "dinov2-large", "dinov2-giant"]),
    ("dinov3", ["dinov3-vitb16", "dinov3-vitl16", "dinov3-vith16plus"])])
def test_the_generator_pairs_with_towers_at_its_scale(towers, expected):
    pairs = [(a.name, b.name) for a, b in matched_pairs("pmf", towers)]
    assert pairs == list(zip(["pmf-b-16", "pmf-l-16", "pmf-h-16"], expected))
