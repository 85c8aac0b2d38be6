"""Model families as data: one `ModelSpec` per model, matched-scale pairs derived from them.

Every entry carries what the measurement needs without a download: the identifier to load the
weights (a Hugging Face id, or an open_clip model name and pretrained tag), the architecture's
real configuration (so the untrained null is built offline at the true size), the parameter
count, the MLP width and the layer count. The module is plain data (no torch), so records and
fits can read it.

Adding a family
---------------
Append `ModelSpec` entries to a tuple and add it to `SPECS`: give the loader (a name in
`empirics.models.loaders`), the weights' identifier, the configuration keys of its
``config.json`` (transformers), its prefix tokens (vision) and an `architecture` registered in
`empirics.models.architectures` (a new one is an adapter module and a line there, docs/design.md
"Where new work goes"). `n_params` is the total parameter count of the network whose
neurons are measured (for CLIP: the vision tower); `tests/empirics/models/test_registry.py`
checks it against a meta-device build of the configuration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSpec:
    """One model of a family.

    Parameters
    ----------
    name : short unique name, e.g. ``"pythia-160m"``.
    family : family name, e.g. ``"pythia"``.
    kind : ``"text"`` or ``"vision"``.
    loader : a loader's name in `empirics.models.loaders` (``"transformers"``,
        ``"open_clip"``, ``"pmf"``, ``"toy"``).
    hf_id : Hugging Face repository id (transformers loader).
    open_clip : (model name, pretrained tag) (open_clip loader).
    n_params : total parameters of the measured network (CLIP: vision tower).
    d_mlp : neurons per MLP layer.
    n_layers : number of MLP layers.
    architecture : a name in `empirics.models.architectures`.
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

def _dinov3(size, n_params, n_layers, d_model, d_mlp, n_heads, gated=False) -> ModelSpec:
    """A DINOv3 ViT/16 (LVD-1689M): 4 register tokens after CLS (prefix = 1 + registers,
    the registers read from the loaded configuration, `capture.pair.prefix_tokens`)."""
    config = dict(model_type="dinov3_vit", hidden_size=d_model, intermediate_size=d_mlp,
                  num_hidden_layers=n_layers, num_attention_heads=n_heads, patch_size=16,
                  image_size=224, num_register_tokens=4, layerscale_value=1.0,
                  use_gated_mlp=gated)
    return _spec("dinov3", "vision", "transformers", "dinov3_vit", f"dinov3-{size}", n_params,
                 n_layers, d_mlp, hf_id=f"facebook/dinov3-{size}-pretrain-lvd1689m",
                 config=config, prefix_tokens=1)


def _pmf(size, patch, n_params, depth, d_model, n_heads, noise_scale, omega, t_min, t_max
         ) -> ModelSpec:
    """A pMF generator (empirics.models.pmf): 20 conditioning tokens before a 16x16 grid;
    its sampling settings (noise scale, guidance omega and interval) as the authors give
    them (Lyy-iiis/pMF, README and pmf.py). The /16 models (256 px) are family "pmf", the
    /32 models (512 px) "pmf-512": one series never mixes the two image sizes."""
    config = dict(image_size=16 * patch, patch_size=patch, d_model=d_model, depth=depth,
                  n_heads=n_heads, head_depth=8, n_classes=1000, noise_scale=noise_scale,
                  omega=omega, t_min=t_min, t_max=t_max, file=f"pMF-{size}-{patch}.pt")
    d_mlp = int(d_model * 8 / 3)
    d_mlp = (d_mlp + 7) // 8 * 8 if d_model > 1024 else d_mlp
    family = "pmf" if patch == 16 else "pmf-512"
    return _spec(family, "vision", "pmf", "pmf_dit", f"pmf-{size.lower()}-{patch}", n_params,
                 depth, d_mlp, hf_id="Lyy0725/pMF", config=config, prefix_tokens=20)


DINOV3 = (
    _dinov3("vits16", 21596544, 12, 384, 1536, 6),
    _dinov3("vits16plus", 28692864, 12, 384, 1536, 6, gated=True),
    _dinov3("vitb16", 85660416, 12, 768, 3072, 12),
    _dinov3("vitl16", 303129600, 24, 1024, 4096, 16),
    _dinov3("vith16plus", 840592640, 32, 1280, 5120, 20, gated=True),
    _dinov3("vit7b16", 6716362752, 40, 4096, 8192, 32, gated=True),
)
#: OpenCLIP EVA02-E-14 (timm eva02_enormous_patch14_clip_224), the 4.4B vision tower.
EVA02 = (_spec("openclip", "vision", "open_clip", "open_clip_eva", "openclip-eva02-e-14",
               4350556928, 64, 15360, open_clip=("EVA02-E-14", "laion2b_s4b_b115k"),
               prefix_tokens=1),)
PMF = (
    _pmf("B", 16, 118234240, 16, 768, 12, 1.0, 7.5, 0.1, 0.8),
    _pmf("L", 16, 410320768, 32, 1024, 16, 1.0, 7.0, 0.2, 0.7),
    _pmf("H", 16, 955508992, 48, 1280, 16, 2.0, 7.0, 0.2, 0.6),
    _pmf("B", 32, 120300928, 16, 768, 12, 2.0, 6.5, 0.1, 0.7),
    _pmf("L", 32, 412977280, 32, 1024, 16, 4.0, 7.5, 0.2, 0.6),
    _pmf("H", 32, 959050240, 48, 1280, 16, 4.0, 5.5, 0.1, 0.6),
)


def _toy(width, n_features=512) -> ModelSpec:
    """A toy net of `theory.toy.model` (one hidden layer of `width` ReLU neurons reading
    `n_features` sparse features); it is trained in code, seeds give the independent runs."""
    return _spec("toy", "toy", "toy", "toy", f"toy-n{n_features}-N{width}",
                 2 * n_features * width + width + n_features, 1, width,
                 config=dict(n_features=n_features, width=width))


#: The default toy sweep's widths (theory.toy.model.ToyConfig), as a family like any other.
TOY = tuple(_toy(width) for width in (8, 16, 32, 64, 128))

SPECS: tuple[ModelSpec, ...] = (PYTHIA + OPT + GPT2 + QWEN25 + OPENCLIP + DINOV2 + DINOV3
                                 + EVA02 + PMF + TOY)


def get_spec(name: str) -> ModelSpec:
    """The spec called `name` (its short name, or its HF id when one model has it); a clear
    error when unknown or when the id holds several models (pMF's six files)."""
    for spec in SPECS:
        if name == spec.name:
            return spec
    found = [spec for spec in SPECS if spec.hf_id == name]
    if len(found) > 1:
        raise KeyError(f"{name!r} holds several models: {', '.join(s.name for s in found)}; "
                       "name one of them")
    if found:
        return found[0]
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
