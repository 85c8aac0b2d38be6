"""GPT-2 as an architecture adapter: its MLP neurons, its final norm, and the small GPT-2s
`empirics.train` builds.

The neuron vector is GELU(c_fc x), the input of ``h.{layer}.mlp.c_proj`` (dropout acts after
the projection and is off in eval mode). Its projections are `Conv1D`s, which store their
weight as (in, out): `empirics.models.hooks.layer_widths` and the unembedding read a
projection's input width from whichever layout it has.
"""

from __future__ import annotations

from empirics.models.adapters import Architecture


def mlp_width(width: int) -> int:
    """4 d: GPT-2's GELU MLP."""
    return 4 * width


def small_config(width: int, layers: int, heads: int, d_mlp: int, context: int, **token_ids):
    """A GPT-2 of width d with no dropout (the MLP width is GPT-2's own 4 d)."""
    import transformers

    if d_mlp != mlp_width(width):
        raise ValueError(f"a GPT-2 MLP has 4 d = {mlp_width(width)} neurons, not {d_mlp}")
    return transformers.GPT2Config(n_embd=width, n_layer=layers, n_head=heads,
                                   n_positions=context, resid_pdrop=0.0, embd_pdrop=0.0,
                                   attn_pdrop=0.0, **token_ids)


GPT2 = Architecture(name="gpt2", hook_points=("h.{layer}.mlp.c_proj",), modality="text",
                    model_types=("gpt2",), final_norm=("ln_f",), depth_field="n_layer",
                    width_field="n_embd", tokenizer="bpe", mlp_width=mlp_width,
                    small_config=small_config)
