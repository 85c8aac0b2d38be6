"""The architectures the hooks know: one registry line each (`empirics.models.adapters`).

An architecture with quirks of its own (a trained family's configuration and tokenizer, a
network without a Hugging Face model type, two MLPs under one model type) is a module of its
own (`gpt2`, `qwen2`, `dinov2`, pMF's `pmf`); the others are a line of data here. The order
is the order `architecture_of` tries them in.
"""

from __future__ import annotations

from empirics.models.adapters import Architecture, Registry, model_type
from empirics.models.dinov2 import DINOV2, DINOV2_SWIGLU
from empirics.models.gpt2 import GPT2
from empirics.models.pmf import ARCHITECTURE as PMF_DIT
from empirics.models.qwen2 import QWEN2


def _open_clip_vit(model) -> bool:
    """An open_clip ViT tower (no model type; its blocks in ``transformer.resblocks``)."""
    return model_type(model) is None and hasattr(getattr(model, "transformer", None),
                                                 "resblocks")


def _open_clip_eva(model) -> bool:
    """An open_clip tower on a timm trunk whose blocks have a plain MLP (fc1, fc2)."""
    blocks = getattr(getattr(model, "trunk", None), "blocks", [None])
    return model_type(model) is None and all(hasattr(getattr(b, "mlp", None), "fc1")
                                             for b in blocks)


def _text(name, point, final_norm, **fields) -> Architecture:
    return Architecture(name=name, hook_points=(point,), modality="text", model_types=(name,),
                        final_norm=final_norm, **fields)


#: The configuration keys of the layer count and d_model in most Hugging Face models.
_HF_FIELDS = {"depth_field": "num_hidden_layers", "width_field": "hidden_size"}

ARCHITECTURES: Registry[Architecture] = Registry("architecture", (
    _text("gpt_neox", "layers.{layer}.mlp.dense_4h_to_h", ("final_layer_norm",), **_HF_FIELDS),
    _text("opt", "decoder.layers.{layer}.fc2",
          ("decoder.final_layer_norm", "decoder.layers.{last}.final_layer_norm"), **_HF_FIELDS),
    GPT2,
    QWEN2,
    _text("llama", "layers.{layer}.mlp.down_proj", ("norm",), **_HF_FIELDS),
    _text("mistral", "layers.{layer}.mlp.down_proj", ("norm",), **_HF_FIELDS),
    _text("qwen3", "layers.{layer}.mlp.down_proj", ("norm",), **_HF_FIELDS),
    DINOV2,
    DINOV2_SWIGLU,
    # DINOv3 (transformers DINOv3ViTModel): act(up x), or act(gate x) * up(x) in the gated
    # MLP of S+, H+ and 7B; the input of down_proj either way
    Architecture("dinov3_vit", ("layer.{layer}.mlp.down_proj",), "vision", ("dinov3_vit",),
                 **_HF_FIELDS),
    Architecture("open_clip_vit", ("transformer.resblocks.{layer}.mlp.c_proj",), "vision",
                 recognises_module=_open_clip_vit),
    # open_clip towers on a timm trunk with a plain MLP (EVA02-E-14): GELU(fc1 x)
    Architecture("open_clip_eva", ("trunk.blocks.{layer}.mlp.fc2",), "vision",
                 recognises_module=_open_clip_eva),
    PMF_DIT,
    # toy superposition nets (theory.toy.model): h = ReLU(W1 x + b1) is the input of W2;
    # they are trained in code, never hooked by module path
    Architecture("toy", ("w_out",), "toy", recognises_module=lambda model: False),
), where="empirics.models.architectures")


def architecture(name: str) -> Architecture:
    """The registered architecture called `name` (KeyError naming the known ones)."""
    return ARCHITECTURES.get(name)


def model_types(modality: str) -> tuple[str, ...]:
    """The Hugging Face model types of the registered architectures of a modality."""
    return tuple(dict.fromkeys(t for a in ARCHITECTURES if a.modality == modality
                               for t in a.model_types))
