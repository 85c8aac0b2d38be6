"""Model families as data: one `ModelSpec` per model, matched-scale pairs derived from them.

Every entry carries what the measurement needs without a download: the identifier to load the
weights (a Hugging Face id, or an open_clip model name and pretrained tag), the architecture's
real configuration (so the untrained null is built offline at the true size), the parameter
count, the MLP width and the layer count. The module is plain data (no torch), so records and
fits can read it.

Adding a family
---------------
Append `ModelSpec` entries to a tuple and add it to `SPECS`: give the loader
(``"transformers"`` or ``"open_clip"``), the weights' identifier, the configuration keys of its
``config.json`` (transformers) and an `architecture` key of `HOOK_POINTS`. A new architecture
(e.g. a diffusion transformer whose MLP is ``blocks.{layer}.mlp.w2``) needs one more
`HOOK_POINTS` entry naming the module whose *input* is the neuron vector, and, for vision,
its number of prefix tokens. `n_params` is the total parameter count of the network whose
neurons are measured (for CLIP: the vision tower); `tests/empirics/models/test_registry.py`
checks it against a meta-device build of the configuration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Module whose *input* is the post-nonlinearity MLP vector, per architecture ({layer} = index).
#: For plain MLPs it equals the activation module's output; for gated MLPs it is
#: act(gate(x)) * up(x), the vector the down projection reads (TransformerLens `hook_post`).
HOOK_POINTS = {
    "gpt_neox": "layers.{layer}.mlp.dense_4h_to_h",
    "opt": "decoder.layers.{layer}.fc2",
    "gpt2": "h.{layer}.mlp.c_proj",
    "qwen2": "layers.{layer}.mlp.down_proj",
    # the same gated MLP in the other Llama-style decoders
    "llama": "layers.{layer}.mlp.down_proj",
    "mistral": "layers.{layer}.mlp.down_proj",
    "qwen3": "layers.{layer}.mlp.down_proj",
    "dinov2": "encoder.layer.{layer}.mlp.fc2",
    "dinov2_swiglu": "encoder.layer.{layer}.mlp.down_proj",
    "open_clip_vit": "transformer.resblocks.{layer}.mlp.c_proj",
    # toy superposition nets (theory.toy_model): h = ReLU(W1 x + b1) is the input of W2
    "toy": "w_out",
}


@dataclass(frozen=True)
class ModelSpec:
    """One model of a family.

    Parameters
    ----------
    name : short unique name, e.g. ``"pythia-160m"``.
    family : family name, e.g. ``"pythia"``.
    kind : ``"text"`` or ``"vision"``.
    loader : ``"transformers"`` or ``"open_clip"``.
    hf_id : Hugging Face repository id (transformers loader).
    open_clip : (model name, pretrained tag) (open_clip loader).
    n_params : total parameters of the measured network (CLIP: vision tower).
    d_mlp : neurons per MLP layer.
    n_layers : number of MLP layers.
    architecture : key of `HOOK_POINTS`.
    config_items : the configuration as (key, value) pairs, keys as in ``config.json``.
    prefix_tokens : tokens before the patch grid (CLS, registers); 0 for text.
    """

    name: str
    family: str
    kind: str
    loader: str
    n_params: int
    d_mlp: int
    n_layers: int
    architecture: str
    hf_id: str | None = None
    open_clip: tuple[str, str] | None = None
    config_items: tuple[tuple[str, object], ...] = ()
    prefix_tokens: int = 0

    @property
    def config(self) -> dict:
        """The configuration keys (transformers) as a fresh dict."""
        return dict(self.config_items)

    @property
    def n_neurons(self) -> int:
        """MLP neurons over all layers."""
        return self.n_layers * self.d_mlp

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Width of every MLP layer, in layer order."""
        return (self.d_mlp,) * self.n_layers

    @property
    def hook_point(self) -> str:
        """Which tensor the neurons are: the input of this module, in every layer."""
        return f"input of {HOOK_POINTS[self.architecture]}"


def _spec(family, kind, loader, architecture, name, n_params, n_layers, d_mlp, *,
          hf_id=None, open_clip=None, config=None, prefix_tokens=0) -> ModelSpec:
    return ModelSpec(name=name, family=family, kind=kind, loader=loader, n_params=n_params,
                     d_mlp=d_mlp, n_layers=n_layers, architecture=architecture, hf_id=hf_id,
                     open_clip=open_clip, config_items=tuple(sorted((config or {}).items())),
                     prefix_tokens=prefix_tokens)


def _pythia(size, n_params, n_layers, d_model, n_heads, vocab=50304) -> ModelSpec:
    config = dict(model_type="gpt_neox", hidden_size=d_model, num_hidden_layers=n_layers,
                  num_attention_heads=n_heads, intermediate_size=4 * d_model, vocab_size=vocab,
                  rotary_pct=0.25, rotary_emb_base=10000, max_position_embeddings=2048,
                  use_parallel_residual=True, tie_word_embeddings=False, hidden_act="gelu",
                  layer_norm_eps=1e-5, bos_token_id=0, eos_token_id=0)
    return _spec("pythia", "text", "transformers", "gpt_neox", f"pythia-{size}", n_params,
                 n_layers, 4 * d_model, hf_id=f"EleutherAI/pythia-{size}", config=config)


def _opt(size, n_params, n_layers, d_model, n_heads, proj=None, pre_ln=True) -> ModelSpec:
    config = dict(model_type="opt", hidden_size=d_model, num_hidden_layers=n_layers,
                  num_attention_heads=n_heads, ffn_dim=4 * d_model, vocab_size=50272,
                  word_embed_proj_dim=proj or d_model, do_layer_norm_before=pre_ln,
                  max_position_embeddings=2048, activation_function="relu", pad_token_id=1,
                  bos_token_id=2, eos_token_id=2)
    return _spec("opt", "text", "transformers", "opt", f"opt-{size}", n_params, n_layers,
                 4 * d_model, hf_id=f"facebook/opt-{size}", config=config)


def _gpt2(suffix, size, n_params, n_layers, d_model, n_heads) -> ModelSpec:
    config = dict(model_type="gpt2", n_embd=d_model, n_layer=n_layers, n_head=n_heads,
                  n_positions=1024, vocab_size=50257, activation_function="gelu_new",
                  bos_token_id=50256, eos_token_id=50256)
    return _spec("gpt2", "text", "transformers", "gpt2", f"gpt2-{size}", n_params, n_layers,
                 4 * d_model, hf_id=f"openai-community/gpt2{suffix}", config=config)


def _qwen(size, n_params, n_layers, d_model, d_mlp, n_heads, n_kv, *, tied, vocab, eps,
          max_pos) -> ModelSpec:
    config = dict(model_type="qwen2", hidden_size=d_model, intermediate_size=d_mlp,
                  num_hidden_layers=n_layers, num_attention_heads=n_heads,
                  num_key_value_heads=n_kv, vocab_size=vocab, tie_word_embeddings=tied,
                  rms_norm_eps=eps, rope_theta=1000000.0, max_position_embeddings=max_pos,
                  hidden_act="silu", bos_token_id=151643, eos_token_id=151643)
    return _spec("qwen2.5", "text", "transformers", "qwen2", f"qwen2.5-{size.lower()}",
                 n_params, n_layers, d_mlp, hf_id=f"Qwen/Qwen2.5-{size}", config=config)


def _dinov2(size, n_params, n_layers, d_model, n_heads, swiglu=False) -> ModelSpec:
    config = dict(model_type="dinov2", hidden_size=d_model, num_hidden_layers=n_layers,
                  num_attention_heads=n_heads, mlp_ratio=4, image_size=518, patch_size=14,
                  layerscale_value=1.0, use_swiglu_ffn=swiglu)
    d_mlp = (int(4 * d_model * 2 / 3) + 7) // 8 * 8 if swiglu else 4 * d_model
    return _spec("dinov2", "vision", "transformers", "dinov2_swiglu" if swiglu else "dinov2",
                 f"dinov2-{size}", n_params, n_layers, d_mlp, hf_id=f"facebook/dinov2-{size}",
                 config=config, prefix_tokens=1)


def _openclip(model, tag, n_params, n_layers, d_mlp) -> ModelSpec:
    return _spec("openclip", "vision", "open_clip", "open_clip_vit",
                 f"openclip-{model.lower()}", n_params, n_layers, d_mlp,
                 open_clip=(model, tag), prefix_tokens=1)


PYTHIA = (
    _pythia("70m", 70426624, 6, 512, 8),
    _pythia("160m", 162322944, 12, 768, 12),
    _pythia("410m", 405334016, 24, 1024, 16),
    _pythia("1b", 1011781632, 16, 2048, 8),
    _pythia("1.4b", 1414647808, 24, 2048, 16),
    _pythia("2.8b", 2775208960, 32, 2560, 32),
    _pythia("6.9b", 6857302016, 32, 4096, 32, vocab=50432),
    _pythia("12b", 11846072320, 36, 5120, 40, vocab=50688),
)
OPT = (
    _opt("125m", 125239296, 12, 768, 12),
    _opt("350m", 331196416, 24, 1024, 16, proj=512, pre_ln=False),
    _opt("1.3b", 1315758080, 24, 2048, 32),
    _opt("2.7b", 2651596800, 32, 2560, 32),
    _opt("6.7b", 6658473984, 32, 4096, 32),
    _opt("13b", 12853473280, 40, 5120, 40),
    _opt("30b", 29974540288, 48, 7168, 56),
)
GPT2 = (
    _gpt2("", "124m", 124439808, 12, 768, 12),
    _gpt2("-medium", "355m", 354823168, 24, 1024, 16),
    _gpt2("-large", "774m", 774030080, 36, 1280, 20),
    _gpt2("-xl", "1.5b", 1557611200, 48, 1600, 25),
)
QWEN25 = (
    _qwen("0.5B", 494032768, 24, 896, 4864, 14, 2, tied=True, vocab=151936, eps=1e-6,
          max_pos=32768),
    _qwen("1.5B", 1543714304, 28, 1536, 8960, 12, 2, tied=True, vocab=151936, eps=1e-6,
          max_pos=131072),
    _qwen("3B", 3085938688, 36, 2048, 11008, 16, 2, tied=True, vocab=151936, eps=1e-6,
          max_pos=32768),
    _qwen("7B", 7615616512, 28, 3584, 18944, 28, 4, tied=False, vocab=152064, eps=1e-6,
          max_pos=131072),
    _qwen("14B", 14770033664, 48, 5120, 13824, 40, 8, tied=False, vocab=152064, eps=1e-5,
          max_pos=131072),
    _qwen("32B", 32763876352, 64, 5120, 27648, 40, 8, tied=False, vocab=152064, eps=1e-5,
          max_pos=131072),
)
OPENCLIP = (
    _openclip("ViT-B-16", "laion2b_s34b_b88k", 86192640, 12, 3072),
    _openclip("ViT-L-14", "laion2b_s32b_b82k", 303966208, 24, 4096),
    _openclip("ViT-H-14", "laion2b_s32b_b79k", 632076800, 32, 5120),
    _openclip("ViT-g-14", "laion2b_s34b_b88k", 1012645632, 40, 6144),
    _openclip("ViT-bigG-14", "laion2b_s39b_b160k", 1844907264, 48, 8192),
)
DINOV2 = (
    _dinov2("small", 22056576, 12, 384, 6),
    _dinov2("base", 86580480, 12, 768, 12),
    _dinov2("large", 304368640, 24, 1024, 16),
    _dinov2("giant", 1136480768, 40, 1536, 24, swiglu=True),
)

def _toy(width, n_features=512) -> ModelSpec:
    """A toy net of `theory.toy_model` (one hidden layer of `width` ReLU neurons reading
    `n_features` sparse features); it is trained in code, seeds give the independent runs."""
    return _spec("toy", "toy", "toy", "toy", f"toy-n{n_features}-N{width}",
                 2 * n_features * width + width + n_features, 1, width,
                 config=dict(n_features=n_features, width=width))


#: The default toy sweep's widths (theory.toy_model.ToyConfig), as a family like any other.
TOY = tuple(_toy(width) for width in (8, 16, 32, 64, 128))

SPECS: tuple[ModelSpec, ...] = PYTHIA + OPT + GPT2 + QWEN25 + OPENCLIP + DINOV2 + TOY


def get_spec(name: str) -> ModelSpec:
    """The spec called `name` (its short name or its HF id); a clear error when unknown."""
    for spec in SPECS:
        if name in (spec.name, spec.hf_id):
            return spec
    raise KeyError(f"unknown model {name!r}; known: {', '.join(s.name for s in SPECS)}")


def family_specs(family: str) -> tuple[ModelSpec, ...]:
    """All models of a family, smallest first."""
    found = tuple(sorted((s for s in SPECS if s.family == family), key=lambda s: s.n_params))
    if not found:
        families = sorted({s.family for s in SPECS})
        raise KeyError(f"unknown family {family!r}; known: {', '.join(families)}")
    return found


def matched_pairs(family_a: str, family_b: str, max_ratio: float = 1.6
                  ) -> tuple[tuple[ModelSpec, ModelSpec], ...]:
    """Pairs of models at matched scale, one from each family.

    A pair is kept when each model is the other's nearest in log parameter count and their
    sizes differ by at most `max_ratio` (e.g. Pythia-160m with OPT-125m, Pythia-1.4b with
    OPT-1.3b). Returned smallest first.
    """
    side_a, side_b = family_specs(family_a), family_specs(family_b)

    def nearest(spec, others):
        return min(others, key=lambda o: abs(math.log(o.n_params / spec.n_params)))

    pairs = []
    for spec in side_a:
        partner = nearest(spec, side_b)
        ratio = max(spec.n_params, partner.n_params) / min(spec.n_params, partner.n_params)
        if nearest(partner, side_a) is spec and ratio <= max_ratio:
            pairs.append((spec, partner))
    return tuple(pairs)
