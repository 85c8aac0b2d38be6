"""Qwen2 as an architecture adapter: its gated MLP's neurons, its final norm, and the small
Qwen2s `empirics.train` builds.

The neuron vector is SiLU(gate x) * up(x), the input of ``layers.{layer}.mlp.down_proj``:
the up branch rescales the gate token by token and only the product reaches the residual
stream (TransformerLens's `hook_post`). The small models are trained with a unigram
tokenizer (`empirics.models.tokenizer` explains why their tokenizer.json is read as saved).
"""

from __future__ import annotations

from empirics.models.adapters import Architecture


def mlp_width(width: int) -> int:
    """About 8 d / 3 rounded up to a multiple of 8: a SwiGLU MLP with about the parameters
    of a 4 d GELU one."""
    return (8 * width // 3 + 7) // 8 * 8


def small_config(width: int, layers: int, heads: int, d_mlp: int, context: int, **token_ids):
    """A Qwen2 of width d with tied embeddings and as many key-value heads as heads."""
    import transformers

    return transformers.Qwen2Config(hidden_size=width, intermediate_size=d_mlp,
                                    num_hidden_layers=layers, num_attention_heads=heads,
                                    num_key_value_heads=heads, tie_word_embeddings=True,
                                    max_position_embeddings=context, **token_ids)


QWEN2 = Architecture(name="qwen2", hook_points=("layers.{layer}.mlp.down_proj",),
                     modality="text", model_types=("qwen2",), final_norm=("norm",),
                     depth_field="num_hidden_layers", width_field="hidden_size",
                     tokenizer="unigram", mlp_width=mlp_width, small_config=small_config)
